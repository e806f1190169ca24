"""Run the simulated panel in another process, as the benches that measure the bot's loop need."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def panel_process(servers: int, api_key: str, *args: str) -> Iterator[str]:
    """Run a simulated panel of `servers` on a free port (more CLI `args`); give its URL.

    The URL is what the panel prints once it listens, so it answers as soon as it is given.
    """
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pterodisbot_sandbox.panel",
            *("--port", "0", "--servers", str(servers), "--api-key", api_key),
            *("--log-level", "WARNING", *args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        url = _read_url(process)
        # Keep reading what it prints, so a full pipe never blocks it.
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_url(process: subprocess.Popen[str]) -> str:
    """Return the URL the panel prints first ("Simulated Pterodactyl panel: http://...")."""
    assert process.stdout is not None
    for line in process.stdout:
        if "panel:" in line and "http" in line:
            return line.split()[-1].rstrip("/")
    raise RuntimeError(f"the simulated panel exited ({process.wait()}) before saying its URL")


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _line in process.stdout:
        pass
