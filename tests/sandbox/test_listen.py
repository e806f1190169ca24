"""Both sandboxes start the same way: a free port, a URL clients can use, a clean failure."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from pterodisbot_sandbox.discord_server import DiscordSandbox
from pterodisbot_sandbox.panel import SimulatedPanel


async def test_a_wildcard_bind_gives_a_loopback_url_that_answers() -> None:
    panel, sandbox = SimulatedPanel(servers=1), DiscordSandbox()
    panel_url = await panel.start("0.0.0.0", 0)
    sandbox_url = await sandbox.start("0.0.0.0", 0)
    try:
        assert panel_url.startswith("http://127.0.0.1:")
        assert sandbox_url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            async with http.get(panel_url + "/_sim/servers") as answer:
                assert answer.status == 200
            async with http.get(sandbox_url + "/_sandbox/world") as answer:
                assert answer.status == 200
    finally:
        await sandbox.stop()
        await panel.stop()


async def test_a_taken_port_raises_oserror_and_a_later_start_works() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for sandbox in (SimulatedPanel(servers=1), DiscordSandbox()):
            with pytest.raises(OSError, match="address already in use"):
                await sandbox.start("127.0.0.1", port)
            url = await sandbox.start("127.0.0.1", 0)
            try:
                assert url != f"http://127.0.0.1:{port}"
            finally:
                await sandbox.stop()
