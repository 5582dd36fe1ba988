"""Ad-hoc `true` on N hosts: patchtui run vs ansible -m raw vs parallel-ssh, one real sshd.

Every "host" is an inventory entry with its own name pointing at one private
OpenSSH sshd on 127.0.0.1 (tests/sshd.py, the real-package-manager tests' own),
so all three tools pay real key exchanges, logins and a session per host against the same
server, at the same concurrency. ansible-core and parallel-ssh are installed
into a venv of their own (default ~/.cache/patchtui-bench/venv), never into
patchtui's environment. A competitor that cannot be installed is reported as
such; patchtui's figures are printed regardless.

Run as root: python benchmarks/adhoc.py [--sizes 100,300] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

# The private sshd the real-package-manager tests use: one way to start and stop it, by PID.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from sshd import Limits, PrivateSshd, sshd_available, start_sshd

RUN_TIMEOUT = 600.0
DEFAULT_VENV = Path.home() / ".cache" / "patchtui-bench" / "venv"
COMPETITOR_PACKAGES = ("ansible-core", "parallel-ssh")

# parallel-ssh ships a library only (no CLI): this is its whole ad-hoc "command line".
PSSH_SCRIPT = textwrap.dedent(
    """
    import sys
    from pssh.clients import ParallelSSHClient
    count, port, key, pool = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    # N names -> one address: parallel-ssh takes host_config per host for that.
    from pssh.config import HostConfig
    hosts = ["127.0.0.1"] * count
    config = [HostConfig(port=port, user="root", private_key=key) for _ in hosts]
    client = ParallelSSHClient(hosts, host_config=config, pool_size=pool, timeout=60)
    output = client.run_command("true", stop_on_errors=False)
    client.join(output)
    bad = [o for o in output if o.exception is not None or o.exit_code != 0]
    sys.exit(1 if bad else 0)
    """
)


def ensure_competitors(venv: Path) -> tuple[Path | None, str]:
    """(venv python, note): create the venv and pip install the competitors once."""
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run(
                ["/usr/bin/python3", "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                timeout=300,
            )
        probe = subprocess.run(
            [str(python), "-c", "import ansible, pssh.clients"], capture_output=True, timeout=60
        )
        if probe.returncode != 0:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *COMPETITOR_PACKAGES],
                check=True,
                capture_output=True,
                text=True,
                timeout=900,
            )
    except (subprocess.SubprocessError, OSError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        return None, f"could not install {', '.join(COMPETITOR_PACKAGES)}: {detail[-300:]}"
    return python, ""


def write_inventories(sshd: PrivateSshd, count: int, directory: Path) -> tuple[Path, Path]:
    names = [f"host{index:04d}" for index in range(1, count + 1)]
    yaml_lines = [
        "defaults:",
        "  user: root",
        f"  identity_file: {sshd.client_key}",
        f"  known_hosts: {sshd.known_hosts}",
        "  connect_timeout: 60",
        "hosts:",
    ]
    yaml_lines += [f"  {name}: {{address: 127.0.0.1, port: {sshd.port}}}" for name in names]
    patchtui_inventory = directory / f"inventory-{count}.yaml"
    patchtui_inventory.write_text("\n".join(yaml_lines) + "\n")
    ini_lines = ["[all]"]
    ini_lines += [
        f"{name} ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root"
        for name in names
    ]
    ini_lines += [
        "[all:vars]",
        f"ansible_ssh_private_key_file={sshd.client_key}",
        # Strict checking against the known_hosts we wrote, as patchtui does.
        f"ansible_ssh_common_args='-o UserKnownHostsFile={sshd.known_hosts} "
        "-o StrictHostKeyChecking=yes'",
    ]
    ansible_inventory = directory / f"inventory-{count}.ini"
    ansible_inventory.write_text("\n".join(ini_lines) + "\n")
    return patchtui_inventory, ansible_inventory


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall seconds, client CPU seconds incl. its children, exit code, output tail)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The client's side only: sshd's work is the same server for every tool.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, result.returncode, (result.stderr or result.stdout)[-400:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300", help="host counts, comma-separated")
    parser.add_argument("--concurrency", type=int, default=100, help="forks/pool/-c for all")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="competitors' venv")
    args = parser.parse_args()
    reason = sshd_available(setenv=False)
    if reason:
        print(f"cannot run: {reason}")
        return 2
    sizes = [int(size) for size in args.sizes.split(",")]
    competitor_python, note = ensure_competitors(args.venv)
    if competitor_python is None:
        print(f"NOTE: {note}; printing patchtui's figures only")

    with tempfile.TemporaryDirectory(prefix="patchtui-bench-adhoc-") as tmp:
        base = Path(tmp)
        home = base / "home"
        (home / ".ssh").mkdir(parents=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("SSH_AUTH_SOCK", "PATCHTUI_CONFIG", "PATCHTUI_DATA_DIR")
        }
        env.update(
            HOME=str(home),
            PATCHTUI_DATA_DIR=str(base / "data"),
            PATCHTUI_CONFIG=str(base / "config"),
            ANSIBLE_HOME=str(base / "ansible"),
            ANSIBLE_LOCAL_TEMP=str(base / "ansible" / "tmp"),
            ANSIBLE_HOST_KEY_CHECKING="True",
            # All names share one address:port, so ansible's default ControlMaster
            # would multiplex them over a single connection: not N hosts any more.
            ANSIBLE_SSH_ARGS="-o ControlMaster=no -o ControlPersist=no",
            ANSIBLE_STDOUT_CALLBACK="minimal",
        )
        pssh_script = base / "pssh_true.py"
        pssh_script.write_text(PSSH_SCRIPT)
        startups = max(1000, args.concurrency * 2)
        sshd = start_sshd(
            base / "sshd",
            {},
            limits=Limits(
                max_startups=f"{startups}:30:{startups}", max_sessions=100, log_level="ERROR"
            ),
        )
        try:
            print(
                f"OpenSSH sshd on 127.0.0.1:{sshd.port}; command `true`; "
                f"concurrency {args.concurrency}\n"
            )
            header = (
                f"{'hosts':>6}  {'tool':<34} {'wall s':>8}  {'vs patchtui':>11}  "
                f"{'client cpu':>9}  result"
            )
            print(header)
            print("-" * len(header))
            for count in sizes:
                patchtui_inventory, ansible_inventory = write_inventories(sshd, count, base)
                c = str(args.concurrency)
                runs: list[tuple[str, list[str]]] = [
                    (
                        "patchtui run -- true",
                        [sys.executable, "-m", "patchtui.cli", "run", "-i",
                         str(patchtui_inventory), "-c", c, "--db",
                         str(base / f"db-{count}.json"), "--", "true"],
                    ),
                ]  # fmt: skip
                if competitor_python is not None:
                    ansible = competitor_python.parent / "ansible"
                    runs += [
                        (
                            "ansible all -m raw -a true",
                            [str(ansible), "all", "-i", str(ansible_inventory), "-m", "raw",
                             "-a", "true", "-f", c],
                        ),
                        (
                            "parallel-ssh ParallelSSHClient",
                            [str(competitor_python), str(pssh_script), str(count),
                             str(sshd.port), str(sshd.client_key), c],
                        ),
                    ]  # fmt: skip
                baseline: float | None = None
                for label, argv in runs:
                    elapsed, cpu, code, tail = timed(argv, env)
                    if baseline is None:
                        baseline = elapsed
                    ratio = f"{elapsed / baseline:.2f}x"
                    status = "ok" if code == 0 else f"exit {code}: {' '.join(tail.split())[:120]}"
                    print(
                        f"{count:>6}  {label:<34} {elapsed:>8.2f}  {ratio:>11}  {cpu:>9.2f}  "
                        f"{status}"
                    )
            if competitor_python is None:
                print(f"\nansible and parallel-ssh not measured: {note}")
            print(
                "\nratio = tool's wall time / patchtui's (above 1.00x: patchtui is faster). "
                "parallel-ssh does not check host keys; ansible and patchtui check them strictly."
            )
        finally:
            sshd.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
