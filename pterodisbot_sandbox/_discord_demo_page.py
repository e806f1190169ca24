"""The sandbox's browser page: a Discord-like channel view, fed live by server-sent events.

`/` serves `demo_page/index.html` (plain HTML/CSS/JS, no build step) and `/demo/<file>` its
assets. `/_sandbox/events` is an SSE stream of `message` events, one per message created, edited
or deleted (ephemeral ones too: the page shows each user only their own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from pterodisbot_sandbox._discord_state import Json, Message

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).with_name("demo_page")
_ASSETS = {
    "app.js": "text/javascript",
    "style.css": "text/css",
}
# A slow browser tab must not make the sandbox hoard events: drop it past this backlog.
_QUEUE_LIMIT = 500
# Comment lines keep idle SSE connections open through proxies and let us notice dead peers.
_KEEPALIVE_SECONDS = 15.0


class DemoPage:
    """Serve the page and stream message events to every open tab."""

    def __init__(self, base_url: Callable[[], str]) -> None:
        self._base_url = base_url
        self._clients: set[asyncio.Queue[str | None]] = set()
        self._seq = 0

    def routes(self) -> list[web.RouteDef]:
        """Return the page's routes."""
        return [
            web.get("/", self.index, allow_head=False),
            web.get("/demo/{name}", self.asset, allow_head=False),
            web.get("/_sandbox/events", self.events, allow_head=False),
        ]

    def message_changed(self, kind: str, message: Message) -> None:
        """Publish a message `create`, `update` or `delete` to every subscribed tab."""
        if not self._clients:
            return
        self._seq += 1
        data: Json = {"kind": kind, "seq": self._seq, "channel_id": str(message.channel_id)}
        if kind == "delete":
            data["id"] = str(message.id)
        else:
            data["message"] = message.to_json(self._base_url())
        frame = f"id: {self._seq}\nevent: message\ndata: {json.dumps(data)}\n\n"
        for queue in list(self._clients):
            if queue.qsize() >= _QUEUE_LIMIT:
                self._clients.discard(queue)
                queue.put_nowait(None)
                continue
            queue.put_nowait(frame)

    async def close(self) -> None:
        """End every event stream (the sandbox is stopping)."""
        for queue in list(self._clients):
            queue.put_nowait(None)
        self._clients.clear()

    async def index(self, request: web.Request) -> web.FileResponse:
        """Serve the page."""
        return web.FileResponse(PAGE_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def asset(self, request: web.Request) -> web.FileResponse:
        """Serve one of the page's own files (nothing else from disk)."""
        name = request.match_info["name"]
        content_type = _ASSETS.get(name)
        if content_type is None:
            raise web.HTTPNotFound()
        return web.FileResponse(
            PAGE_DIR / name,
            headers={"Content-Type": content_type, "Cache-Control": "no-cache"},
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Stream message events until the tab goes away."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._clients.add(queue)
        try:
            await response.write(b"retry: 1000\n: connected\n\n")
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), _KEEPALIVE_SECONDS)
                except TimeoutError:
                    frame = ": keep-alive\n\n"
                if frame is None:
                    break
                await response.write(frame.encode())
        except ConnectionResetError:
            # The tab closed; nothing to tell anyone.
            return response
        finally:
            self._clients.discard(queue)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response
