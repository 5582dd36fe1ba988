#!/usr/bin/env bash
# Install what the `real_dnf` and `real_zypper` tests need on this machine: Debian's packages of
# the real dnf (4.14), zypper (1.14), rpm with rpmbuild (4.18) and createrepo_c/modifyrepo_c
# (0.17). The tests only ever run them on private roots in a tmp dir (dnf --installroot,
# zypper --root, rpm --root); installing them changes nothing else on this machine.
# Idempotent: when everything is present it does nothing, so a re-run costs nothing and never
# touches the package lists. Only root can install; without root (or without apt-get) it says so
# and leaves the tests to skip themselves. The private sshd the tests also need comes from
# .ci/setup-real-apt.sh.
set -euo pipefail

needed=()
command -v dnf >/dev/null 2>&1 || needed+=(dnf)
command -v zypper >/dev/null 2>&1 || needed+=(zypper)
# Debian's rpm package carries rpmbuild too.
{ command -v rpm >/dev/null 2>&1 && command -v rpmbuild >/dev/null 2>&1; } || needed+=(rpm)
{ command -v createrepo_c >/dev/null 2>&1 && command -v modifyrepo_c >/dev/null 2>&1; } \
  || needed+=(createrepo-c)

if [ "${#needed[@]}" -eq 0 ]; then
  echo "setup-real-rpm: dnf, zypper, rpm, rpmbuild and createrepo_c already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-real-rpm: not root, cannot install ${needed[*]}; the real_dnf/real_zypper tests will skip" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-real-rpm: no apt-get here, cannot install ${needed[*]}; the real_dnf/real_zypper tests will skip" >&2
  exit 0
fi

echo "setup-real-rpm: installing ${needed[*]}"
export DEBIAN_FRONTEND=noninteractive
# The machine's package lists may be stale or absent: refresh them once before installing.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${needed[@]}"
