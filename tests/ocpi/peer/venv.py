"""The extrawest-ocpi peer: its own virtual environment (created once, in a cache directory) and a
running eMSP process on loopback.

The library pins pydantic 1 and an old FastAPI, so it never enters our environment. The venv lives
in `$VOLTBRIDGE_PEER_CACHE` (default `~/.cache/voltbridge/peer-extrawest`) and is reused; when it
cannot be built (no package index), the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import venv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

HARNESS = Path(__file__).with_name("extrawest_emsp.py")
REQUIREMENTS = ("extrawest-ocpi==2025.7.16", "uvicorn<0.35")


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "voltbridge" / "peer-extrawest"
    return Path(os.environ.get("VOLTBRIDGE_PEER_CACHE", default))


def ensure_venv() -> Path | str:
    """The peer venv's python, or the reason it could not be made.

    Parallel test workers share the cache: the first one builds it under a file lock, the others
    wait for it and then use it.
    """
    root = cache_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(root)


def _build(root: Path) -> Path | str:
    python = root / "bin" / "python"
    marker = root / ".installed"
    if marker.exists() and python.exists():
        return python
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not create the extrawest-ocpi venv in {root}: {exc!r}"
    if result.returncode != 0:
        return f"pip could not install {', '.join(REQUIREMENTS)} into {root}: {result.stderr.strip()[-500:]}"
    marker.write_text(sys.version)
    return python


@dataclass
class Peer:
    """A running extrawest-ocpi eMSP."""

    base_url: str
    token_a: str
    process: asyncio.subprocess.Process

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"


@asynccontextmanager
async def running_emsp(python: Path, token_a: str, country: str, party: str) -> AsyncIterator[Peer]:
    """Start the harness; stop it (terminate, then kill) at the end."""
    log_path = cache_dir() / "peer.log"
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        str(python),
        str(HARNESS),
        token_a,
        country,
        party,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,  # a pipe nobody reads could fill up and stall the peer
        cwd=str(cache_dir()),  # its settings read a .env from the working directory: keep ours out
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = (await process.stdout.readline()).decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the extrawest harness did not start: {line!r}; see {log_path}")
        yield Peer(f"http://127.0.0.1:{int(line.split()[1])}", token_a, process)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
