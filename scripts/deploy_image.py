"""Build the container image and smoke-test it, without Docker: buildah, podman and mmdebstrap (`make image`,
`make image-smoke`). Not run in CI: it needs root, apt and a few minutes.

    python scripts/deploy_image.py build [--image localhost/baton-datadog:VERSION]
    python scripts/deploy_image.py smoke [--image localhost/baton-datadog:VERSION]
    python scripts/deploy_image.py lock     (requirements-image.txt from the installed package)

No container registry is reachable from the build machines, so `build` makes the Dockerfile's base image
locally: a Debian bookworm rootfs (mmdebstrap: python3, python3-venv, ca-certificates) imported with podman and
tagged with the exact name the Dockerfile's FROM uses, then `buildah bud --pull=never`. That base has Debian's
/usr/bin/python3 rather than the official image's /usr/local/bin/python: it proves the Dockerfile builds and
the image runs, not the byte-exact published image.

`smoke` runs the image as Kubernetes would (read-only root, tmpfs /tmp, UID 65532) with fresh, well-formed but
useless ConductorOne credentials pointed at a closed port (so the Hello keeps failing), and checks: non-root,
/healthz 200 within 20 s, SIGTERM (`podman stop -t 10`) ends it with exit 0 within 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / "build" / "image"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
APT_PACKAGES = [
    "buildah",
    "podman",
    "skopeo",
    "umoci",
    "runc",
    "fuse-overlayfs",
    "uidmap",
    "slirp4netns",
    "netavark",
    "aardvark-dns",
    "catatonit",
    "conmon",
    "containernetworking-plugins",
    "golang-github-containers-common",
    "mmdebstrap",
]
LOCAL_BASE = "localhost/debian-py:bookworm"
STORAGE = ["--storage-driver", "vfs"]
PODMAN = ["podman", *STORAGE, "--cgroup-manager", "cgroupfs", "--runtime", "runc"]
NONROOT = 65532
HEALTH_TIMEOUT = 20.0
STOP_TIMEOUT = 10


LOCK = ROOT / "requirements-image.txt"
LOCK_HEADER = """\
# The run-time distributions, pinned: `make install` and the image's builder (Dockerfile) install the package
# under these constraints, so the image runs the versions `make test` ran against, not whatever pyproject.toml's
# ranges resolve to on build day. To move a version: upgrade it in .venv, run the tests, then rewrite this file
# from the installed package with `python scripts/deploy_image.py lock`; tests/deploy/test_dockerfile.py fails
# when it no longer matches the environment the tests run in.
"""


def runtime_lock() -> str:
    """requirements-image.txt as this environment makes it: every distribution the installed baton-datadog needs
    to run (its dependencies, theirs, and so on; no extras of its own, so no test tools), at its installed version."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [("baton-datadog", frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(name)
        if key[0] != "baton-datadog":
            pins[key[0]] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras or {""}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return LOCK_HEADER + "".join(f"{name}=={pinned}\n" for name, pinned in sorted(pins.items()))


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def default_image() -> str:
    return f"localhost/baton-datadog:{version()}"


def base_image() -> str:
    """The default of the Dockerfile's `ARG PYTHON_IMAGE=`: the name the FROM lines resolve to."""
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    if match is None:
        raise SystemExit("Dockerfile: no `ARG PYTHON_IMAGE=` line")
    return match[1]


def run(argv: Sequence[str], *, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess[str]:
    print("+ " + shlex.join(argv), flush=True)
    return subprocess.run(list(argv), check=check, text=True, capture_output=capture)


def quiet(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=False, text=True, capture_output=True)


# ---- build ---------------------------------------------------------------------------------------------------


def ensure_apt_packages() -> None:
    """Install the container tools once; a no-op when they are all there."""
    missing = [
        pkg
        for pkg in APT_PACKAGES
        if "install ok installed" not in quiet(["dpkg-query", "-W", "-f=${Status}", pkg]).stdout
    ]
    if not missing:
        print("container tools: installed", flush=True)
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing apt packages (run as root, or install them): {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)


def image_exists(name: str) -> bool:
    return quiet([*PODMAN, "image", "exists", name]).returncode == 0


def ensure_base_image() -> str:
    """The Dockerfile's base, made locally (no registry): mmdebstrap rootfs -> podman import -> tag."""
    base = base_image()
    if image_exists(base):
        print(f"base image: {base} (present)", flush=True)
        return base
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    rootfs = BUILD_DIR / "rootfs.tar"
    if not rootfs.exists():
        partial = rootfs.with_suffix(".partial")
        run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "--mode=root",
                "--format=tar",
                "bookworm",
                str(partial),
            ]
        )
        partial.rename(rootfs)
    if not image_exists(LOCAL_BASE):
        run([*PODMAN, "import", str(rootfs), LOCAL_BASE])
    run([*PODMAN, "tag", LOCAL_BASE, base])
    return base


def git_revision() -> str:
    done = quiet(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def build(image: str) -> None:
    ensure_apt_packages()
    ensure_base_image()
    started = time.monotonic()
    run(
        [
            "buildah",
            *STORAGE,
            "bud",
            "--isolation",
            "chroot",
            "--pull=never",
            "--layers",
            "-v",
            f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
            "--build-arg",
            f"VERSION={version()}",
            "--build-arg",
            f"REVISION={git_revision()}",
            "--build-arg",
            f"CREATED={datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "-t",
            image,
            str(ROOT),
        ]
    )
    print(f"built {image} in {time.monotonic() - started:.0f}s; size {image_size(image)}", flush=True)


def image_size(image: str) -> str:
    done = quiet([*PODMAN, "image", "inspect", "--format", "{{.Size}}", image])
    if done.returncode != 0:
        return "unknown"
    size = int(done.stdout.strip())
    return f"{size / 1e6:.0f} MB ({size} bytes)"


# ---- smoke ---------------------------------------------------------------------------------------------------


@dataclass
class SmokeResult:
    ok: bool
    lines: list[str]


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def credentials() -> tuple[str, str]:
    """A fresh, well-formed ConductorOne client id and secret that no tenant knows."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.c1 import generate_client_credentials

    creds = generate_client_credentials("smoke-test.invalid")
    return creds.client_id, creds.client_secret


def container_state(name: str) -> dict[str, object]:
    done = quiet([*PODMAN, "inspect", "--format", "{{json .State}}", name])
    if done.returncode != 0:
        return {}
    state: dict[str, object] = json.loads(done.stdout)
    return state


def _seconds_since_container_start(name: str) -> float:
    started = str(container_state(name).get("StartedAt", ""))
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", started)
    if match is None:
        return float("nan")
    fraction = (match[2] or ".0")[:7]
    stamp = datetime.fromisoformat(match[1] + fraction + match[3].replace("Z", "+00:00"))
    return (datetime.now(UTC) - stamp).total_seconds()


def smoke(image: str) -> SmokeResult:
    ensure_apt_packages()
    if not image_exists(image):
        print(f"{image} not built yet: building it", flush=True)
        build(image)
    sys.path.insert(0, str(ROOT))
    from tests.fakes.net import logged_health_port  # the project's own tests package, found through ROOT

    name = f"baton-datadog-smoke-{secrets.token_hex(4)}"
    client_id, client_secret = credentials()
    env = {
        "BATON_CLIENT_ID": client_id,
        "BATON_CLIENT_SECRET": client_secret,
        "BATON_C1_API_HOST": "127.0.0.1:9",  # nothing listens: the Hello keeps failing and retrying
        # Datadog too points at a closed local port: the smoke test sends nothing off this machine.
        "BATON_BASE_URL": "http://127.0.0.1:9",
        "BATON_API_KEY": "0" * 32,
        "BATON_APP_KEY": "0" * 40,
        "BATON_HOST_ID": name,
        # Port 0: the daemon binds a free port itself (host network) and logs it; read back from `podman logs`.
        "BATON_HEALTH_CHECK_PORT": "0",
        "BATON_LOG_FORMAT": "json",
    }
    lines: list[str] = [f"image: {image}, size {image_size(image)}"]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "smoke.env"  # not on the command line, where `ps` would show the secret
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        env_file.chmod(0o600)
        started_at = datetime.now(UTC)
        started = time.monotonic()
        run(
            [
                *PODMAN,
                "run",
                "--detach",
                "--name",
                name,
                "--read-only",
                "--tmpfs",
                "/tmp:rw,size=64m,mode=1777",
                "--user",
                f"{NONROOT}:{NONROOT}",
                "--network",
                "host",
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
                "--env-file",
                str(env_file),
                image,
            ]
        )
    try:
        port: int | None = None
        status: int | None = None
        while time.monotonic() - started < HEALTH_TIMEOUT:
            if port is None:
                logged = quiet([*PODMAN, "logs", name])
                port = logged_health_port((logged.stdout + logged.stderr).splitlines())
            if port is not None:
                status = http_status(f"http://127.0.0.1:{port}/healthz")
            if status == 200 or container_state(name).get("Running") is False:
                break
            time.sleep(0.25)
        took = time.monotonic() - started
        since_start = _seconds_since_container_start(name)
        lines.append(f"started: {started_at.isoformat(timespec='seconds')} (health on 127.0.0.1:{port})")
        base = f"http://127.0.0.1:{port}"
        if status == 200:
            lines.append(
                f"/healthz: 200 after {took:.1f}s from `podman run` ({since_start:.1f}s after the process started;"
                " the rest is podman copying the rootfs with the vfs driver)"
            )
        else:
            ok = False
            state = container_state(name)
            lines.append(
                f"/healthz: {status} after {took:.1f}s (running={state.get('Running')}, exit={state.get('ExitCode')})"
            )
            logs = quiet([*PODMAN, "logs", name])
            lines.extend("  log: " + ln for ln in (logs.stdout + logs.stderr).strip().splitlines()[-15:])
        if container_state(name).get("Running"):
            status_line = quiet([*PODMAN, "exec", name, "cat", "/proc/1/status"]).stdout
            ids = {k: v.split() for k, v in re.findall(r"^(Uid|Gid):\s+(.*)$", status_line, re.M)}
            uid, gid = (ids.get("Uid") or ["?"])[0], (ids.get("Gid") or ["?"])[0]
            nonroot = uid == str(NONROOT) and gid == str(NONROOT)
            ok &= nonroot
            lines.append(f"PID 1 uid/gid: {uid}/{gid} ({'non-root' if nonroot else 'NOT the expected 65532'})")
            write = quiet([*PODMAN, "exec", name, "touch", "/opt/venv/probe"])
            ro = write.returncode != 0
            ok &= ro
            lines.append(f"root filesystem: {'read-only' if ro else 'WRITABLE'}")
            lines.append(f"/readyz: {http_status(base + '/readyz')} (ConductorOne unreachable: 503 expected)")
            metrics = fetch(base + "/metrics")
            lines.append(
                f"/metrics: baton_datadog_build_info {'present' if 'baton_datadog_build_info' in metrics else 'ABSENT'}"
            )
            stop_started = time.monotonic()
            run([*PODMAN, "stop", "-t", str(STOP_TIMEOUT), name], capture=True)
            stopped = time.monotonic() - stop_started
            exit_code = container_state(name).get("ExitCode")
            clean = exit_code == 0 and stopped < STOP_TIMEOUT
            ok &= clean
            lines.append(f"SIGTERM (podman stop -t {STOP_TIMEOUT}): exit code {exit_code} after {stopped:.1f}s")
            lines.append(f"stopped: {datetime.now(UTC).isoformat(timespec='seconds')}")
            logs = quiet([*PODMAN, "logs", name])
            log_lines = (logs.stdout + logs.stderr).strip().splitlines()
            lines.append(f"log: {len(log_lines)} lines; the last ones:")
            lines.extend("  " + line[:240] for line in log_lines[-3:])
            if client_secret in logs.stdout + logs.stderr:
                ok = False
                lines.append("LOGS CONTAIN THE CLIENT SECRET")
        else:
            ok = False
            state = container_state(name)
            lines.append(f"container exited early: exit code {state.get('ExitCode')}")
    finally:
        quiet([*PODMAN, "rm", "--force", name])
    lines.append("RESULT: " + ("PASS" if ok else "FAIL"))
    return SmokeResult(ok, lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "smoke", "lock"])
    parser.add_argument("--image", default=default_image())
    args = parser.parse_args(argv)
    if args.command == "lock":
        LOCK.write_text(runtime_lock())
        print(f"wrote {LOCK.relative_to(ROOT)}", flush=True)
        return 0
    if shutil.which("dpkg-query") is None:
        raise SystemExit("needs a Debian machine (dpkg, apt): see docs/deployment.md")
    if args.command == "build":
        build(args.image)
        return 0
    result = smoke(args.image)
    print("\n".join(["", "image-smoke:", *("  " + line for line in result.lines)]), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
