"""Run the real `python -m pterodisbot` as a child process with a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Only what a process needs to start: none of the caller's PTERODISBOT_*/DISCORD_* settings leak in.
_KEPT = {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}


def subprocess_env(**extra: str) -> dict[str, str]:
    """Return a minimal environment that imports this checkout, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k in _KEPT}
    return {**env, "PYTHONPATH": str(REPO), **extra}
