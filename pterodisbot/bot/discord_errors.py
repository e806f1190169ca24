"""What Discord's error answers mean to the bot's messages: gone for good, or refused for now.

The status board, the fleet boards and the alerts all keep messages they edit later; each reads
an edit's failure through these, so "gone" means the same thing to all of them.
"""

from __future__ import annotations

from typing import Final

import discord

# Unknown channel, unknown guild, unknown message: the message is gone for good (so is a plain
# 404). Only these make the bot forget a message it keeps.
GONE_CODES: Final = frozenset({10003, 10004, 10008})
# Missing access, missing permissions: a fixable, lasting refusal; the message is kept.
REFUSED_CODES: Final = frozenset({50001, 50013})


def is_gone(exc: discord.HTTPException) -> bool:
    """Tell whether Discord says the message (or its channel, or its guild) no longer exists."""
    return exc.code in GONE_CODES or exc.status == 404


def is_refused(exc: discord.HTTPException) -> bool:
    """Tell whether Discord refuses the bot the message's channel (access or permissions)."""
    return exc.code in REFUSED_CODES


def gone_text(exc: discord.HTTPException) -> str:
    """Return Discord's answer as a log line's reason: "404 Unknown Message"."""
    return f"{exc.status} {exc.text or exc.code}"
