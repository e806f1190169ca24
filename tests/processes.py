"""Run the real `python -m pterodisbot` as a child process with a clean environment."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Only what a process needs to start: none of the caller's PTERODISBOT_*/DISCORD_* settings leak in.
_KEPT = {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}


def subprocess_env(**extra: str) -> dict[str, str]:
    """Return a minimal environment that imports this checkout, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k in _KEPT}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def free_port() -> int:
    """Return a loopback port nothing listens on now (for a child process to take)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_bot_process(
    config: Path, *, cwd: Path, token: str, api_key: str, stdout: int | None
) -> asyncio.subprocess.Process:
    """Start `python -m pterodisbot run --config CONFIG` with only its two secrets in the env."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pterodisbot",
        "run",
        "--config",
        str(config),
        cwd=cwd,
        env=subprocess_env(DISCORD_TOKEN=token, PTERODACTYL_API_KEY=api_key),
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )
