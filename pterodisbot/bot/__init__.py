"""The Discord side of Pterodisbot: the bot, its cogs, embeds and views."""

from __future__ import annotations
