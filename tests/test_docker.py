"""The image's install steps, performed for real in a fresh virtual environment.

No Docker engine runs on the development or CI machines, so this test reads the
Dockerfile, replays its WORKDIR/COPY/ENV/RUN instructions (up to the unprivileged user)
into a temporary directory with a fresh venv's ``python``/``pip`` first on PATH, and then
runs the image's HEALTHCHECK command, ``corrbot health``, against a store it prepared.
What it cannot check: the base image itself, ``useradd``/``chown`` (it does not create
system users), and the container runtime's handling of HEALTHCHECK and VOLUME.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import venv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.sender_lease import SenderState
from bot.core.store import Store
from bot.core.store.meta import LastRun

ROOT = Path(__file__).resolve().parent.parent
#: Wednesday 2026-12-02, 14:00 UTC: Tuesday's run is the one due.
AT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
SYSTEM_USER_COMMANDS = ("useradd", "groupadd", "chown")


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for raw in dockerfile.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1].rstrip() + " " + stripped
        else:
            lines.append(stripped)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_passes_its_checks() -> None:
    """Pinned slim base, dependencies before source, non-root user, health check, run."""
    steps = _instructions(ROOT / "Dockerfile")
    kinds = [kind for kind, _ in steps]
    base = dict(steps)["FROM"]
    assert base.startswith("python:3.11.")
    assert base.endswith("-slim-bookworm")
    first_source_copy = next(
        i for i, (k, a) in enumerate(steps) if k == "COPY" and "bot" in a.split()
    )
    deps_run = next(i for i, (k, a) in enumerate(steps) if k == "RUN" and "install-deps" in a)
    assert deps_run < first_source_copy
    assert dict(steps)["USER"] == "10001:10001"
    assert 'CMD ["corrbot", "health"]' in dict(steps)["HEALTHCHECK"]
    assert dict(steps)["CMD"] == '["corrbot", "run"]'
    assert "VOLUME" in kinds


@pytest.mark.slow
@pytest.mark.registry
def test_image_install_steps_work_and_health_passes(tmp_path: Path) -> None:
    """The Dockerfile's own commands install corrbot; `corrbot health` then passes."""
    context, image = tmp_path / "context", tmp_path / "image"
    shutil.copytree(
        ROOT,
        context,
        ignore=shutil.ignore_patterns(".git", "__pycache__", ".*cache", "corrbot-demo"),
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    env = {
        **os.environ,
        "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(env_dir),
    }
    env.pop("PYTHONPATH", None)
    # Building the image downloads its dependencies: this one test reaches the package
    # registry (as .ci/run's own install does); the suite's proxy trap stays for the rest.
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        env.pop(name, None)
    workdir = image
    workdir.mkdir()
    for kind, args in _instructions(ROOT / "Dockerfile"):
        if kind == "USER":
            break  # what follows runs as the unprivileged user in the container
        if kind == "WORKDIR":
            workdir = image / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif kind == "ENV":
            parts = shlex.split(args)
            env.update(part.split("=", 1) for part in parts if "=" in part)
        elif kind == "COPY":
            *sources, target = args.split()
            for source in sources:
                origin = context / source
                destination = (
                    workdir / target if not target.startswith("/") else image / target.lstrip("/")
                )
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        destination / origin.name
                        if target.endswith("/") and target != "./"
                        else destination,
                        dirs_exist_ok=True,
                    )
                else:
                    destination.mkdir(parents=True, exist_ok=True) if target.endswith(
                        "/"
                    ) else destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(
                        origin, destination / origin.name if target.endswith("/") else destination
                    )
        elif kind == "RUN" and not any(word in args for word in SYSTEM_USER_COMMANDS):
            done = subprocess.run(
                ["sh", "-c", args],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
            )
            assert done.returncode == 0, (
                f"RUN {args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    corrbot = env_dir / "bin" / "corrbot"
    assert corrbot.exists(), "pip install put the console script in the fresh venv"
    version = subprocess.run(
        [str(corrbot), "--version"], env=env, capture_output=True, text=True, check=False
    )
    assert version.stdout.startswith("corrbot "), version.stderr
    config = image / "etc" / "corrbot" / "config.yaml"
    store_path = tmp_path / "data" / "corrbot.sqlite3"
    config.write_text(config.read_text().replace("/data/corrbot.sqlite3", str(store_path)))
    with Store.open(store_path) as store:  # as a running bot leaves it: beating, polling, sending
        store.meta.beat(AT - timedelta(seconds=30), polled_at=AT - timedelta(seconds=30))
        renewed = AT - timedelta(seconds=2)
        lease = SenderState("image:1:ab", renewed, renewed, renewed + timedelta(seconds=30))
        store.meta.swap_lease(lambda _: lease.to_json())
        store.meta.record_run(LastRun(AT, AT, True, 0, None))
    env["CORRBOT_CONFIG"] = str(config)
    clock_tool = subprocess.run(  # for the test's clock only; not part of the image
        [str(env_dir / "bin" / "pip"), "install", "--quiet", "time-machine>=2.14,<4"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert clock_tool.returncode == 0, clock_tool.stderr[-2000:]
    healthy = _health_at(AT, env_dir, env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.startswith("healthy: heartbeat 3"), healthy.stdout  # 30 s and a bit
    with Store.open(store_path) as store:
        store.meta.beat(AT - timedelta(hours=1))
    stale = _health_at(AT, env_dir, env)
    assert stale.returncode == 1
    assert stale.stdout.startswith("unhealthy: heartbeat is 60 min old"), stale.stdout
    assert sys.executable  # the test's own interpreter was never used for the install


def _health_at(
    at: datetime, env_dir: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The image's `corrbot health` with the venv's clock starting at ``at``.

    The probe compares the store's heartbeat with its own clock, and the test's clock is not
    the child's (libfaketime, for one, may start each process's clock afresh): both are
    pinned instead, the child's through time-machine (``tests/fakes/clocked.py``).
    """
    launcher = ROOT / "tests" / "fakes" / "clocked.py"
    return subprocess.run(
        [str(env_dir / "bin" / "python"), str(launcher), at.isoformat(), "health"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
