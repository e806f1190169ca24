"""Start the product and its HTTP endpoint on an ephemeral port, the way every web test does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pterodisbot.web import WebServer
from tests.fixtures.product import Product


@asynccontextmanager
async def web_endpoint(
    product: Product, settings: Mapping[str, Mapping[str, str]] | None = None
) -> AsyncIterator[WebServer]:
    """Start the product (with `settings`) and a `WebServer` in front of its bot; stop it after."""
    start: dict[str, Any] = {} if settings is None else {"settings": settings}
    bot = await product.start(**start)
    server = WebServer(bot, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
