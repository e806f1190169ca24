"""`/healthz` follows the gateway: 503 while the socket is gone, 200 once discord.py resumed.

discord.py resumes a dropped socket within milliseconds, too fast to look at. Here the bot
reaches the Discord sandbox through a loopback TCP relay that the test can cut (every open
connection reset) and hold (new connections wait), like a network outage; the sandbox's
session survives it, so the bot comes back with RESUME, as it would on Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from pterodisbot.bot import discord_api
from pterodisbot.web import WebServer
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product


class Relay:
    """A TCP relay on 127.0.0.1 in front of one port; `cut()` resets and holds, `restore()`."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._open = asyncio.Event()
        self._open.set()
        self._links: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        self._links.discard(sink)
        sink.close()

    def cut(self) -> None:
        """Reset every open connection and hold new ones until `restore()`."""
        self._open.clear()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        """Let held and new connections through again."""
        self._open.set()

    async def stop(self) -> None:
        self.restore()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def relayed(product: Product) -> AsyncIterator[tuple[Product, Relay, WebServer]]:
    """The product's bot talking to the sandbox through a relay, with an HTTP endpoint."""
    await product.start()
    await product.stop_bot()
    relay = Relay(int(urlsplit(product.sandbox.url).port or 0))
    # REST and therefore the gateway (the sandbox names it after the Host it was asked on).
    discord_api.use_api_base(await relay.start())
    bot = await product.start()
    web = WebServer(bot, port=0)
    await web.start()
    try:
        yield product, relay, web
    finally:
        await web.stop()
        await relay.stop()


async def _healthz(product: Product, web: WebServer) -> tuple[int, Any]:
    async with product.session.get(web.url + "/healthz") as answer:
        return answer.status, await answer.json()


async def test_healthz_flips_to_503_when_the_gateway_drops_and_back_after_the_resume(
    relayed: tuple[Product, Relay, WebServer],
) -> None:
    product, relay, web = relayed
    assert (await _healthz(product, web))[0] == 200
    gateway_before = await product.control.gateway()

    relay.cut()

    async def unhealthy() -> Any:
        status, body = await _healthz(product, web)
        return body if status == 503 else None

    body = await poll_until(unhealthy, within=5, what="/healthz to say 503")
    assert body["reasons"] == ["Discord gateway is not connected"]

    relay.restore()

    async def healthy() -> Any:
        status, body = await _healthz(product, web)
        return body if status == 200 else None

    body = await poll_until(healthy, within=10, what="/healthz to say 200 after the resume")
    assert body["gateway"] == {"connected": True, "disconnects": 1, "resumes": 1}
    gateway_after = await product.control.gateway()
    # Resumed, not identified again: the same session carried on.
    assert gateway_after["identifies"] == gateway_before["identifies"]
    [session] = [s for s in gateway_after["sessions"] if s["connected"]]
    assert session["resumes"] == 1
