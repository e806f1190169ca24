"""Cogs loaded by `PterodactylBot.setup_hook`, one module per feature."""

from __future__ import annotations
