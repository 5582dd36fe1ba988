#!/usr/bin/env bash
# Install what the `real_apt` tests need on this machine: OpenSSH's sshd (the tests start a private
# one on 127.0.0.1) and dpkg-dev (dpkg-scanpackages builds the tests' local repository).
# Idempotent: when both are already present it does nothing, so a re-run costs nothing and never
# touches the package lists. Only root can install; without root it says so and leaves the tests
# to skip themselves.
set -euo pipefail

needed=()
[ -x /usr/sbin/sshd ] || needed+=(openssh-server)
command -v dpkg-scanpackages >/dev/null 2>&1 || needed+=(dpkg-dev)
command -v dpkg-deb >/dev/null 2>&1 || needed+=(dpkg)

if [ "${#needed[@]}" -eq 0 ]; then
  echo "setup-real-apt: openssh-server and dpkg-dev already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-real-apt: not root, cannot install ${needed[*]}; the real_apt tests will skip" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-real-apt: no apt-get here, cannot install ${needed[*]}; the real_apt tests will skip" >&2
  exit 0
fi

echo "setup-real-apt: installing ${needed[*]}"
export DEBIAN_FRONTEND=noninteractive
# The machine's package lists may be stale or absent: refresh them once before installing.
apt-get update -qq
# policy-rc.d exit 101 keeps the package's maintainer scripts from starting the system sshd
# service: the tests start their own private sshd on loopback and nothing else should listen.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
status=0
apt-get install -y -qq --no-install-recommends "${needed[@]}" || status=$?
if [ "$created_policy" -eq 1 ]; then
  rm -f "$policy"
fi
exit "$status"
