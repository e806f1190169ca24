"""One aiohttp app on a real port, for both sandboxes: start it, learn its URL, stop it."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.log import access_logger

# A wildcard bind still needs an address clients can put in a URL.
_WILDCARDS = frozenset({"0.0.0.0", "", "::"})


@dataclass(frozen=True, slots=True)
class Listening:
    """An app serving on a port: its base URL and the runner that stops it."""

    url: str
    runner: web.AppRunner

    async def close(self) -> None:
        """Close the connections and stop listening."""
        await self.runner.cleanup()


async def listen(
    app: web.Application,
    host: str,
    port: int,
    *,
    access_log: bool = True,
    shutdown_timeout: float = 60.0,
) -> Listening:
    """Serve `app` on host:port (0: any free port); raise OSError, cleaned up, if it cannot."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        access_log=access_logger if access_log else None,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    shown = "127.0.0.1" if host in _WILDCARDS else host
    shown = f"[{shown}]" if ":" in shown else shown
    return Listening(f"http://{shown}:{bound_port}", runner)
