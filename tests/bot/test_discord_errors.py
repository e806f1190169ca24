"""How the bot reads Discord's error answers to an edit: gone for good, refused, or neither."""

from __future__ import annotations

from types import SimpleNamespace

import discord
import pytest

from pterodisbot.bot.discord_errors import gone_text, is_gone, is_refused


def answer(status: int, code: int, text: str = "") -> discord.HTTPException:
    """Build the exception discord.py raises for a JSON error answer."""
    response = SimpleNamespace(status=status, reason="reason")
    return discord.HTTPException(response, {"code": code, "message": text})


# Discord's JSON error codes (discord.com/developers/docs/topics/opcodes-and-status-codes).
@pytest.mark.parametrize(
    ("status", "code", "gone", "refused"),
    [
        (404, 10003, True, False),  # Unknown Channel
        (404, 10004, True, False),  # Unknown Guild
        (404, 10008, True, False),  # Unknown Message
        (404, 0, True, False),  # a plain 404 (a proxy in front of Discord)
        (403, 50001, False, True),  # Missing Access
        (403, 50013, False, True),  # Missing Permissions
        (400, 50035, False, False),  # Invalid Form Body: this edit, not the message
        (500, 0, False, False),  # Discord's own trouble: try again later
    ],
)
def test_an_edit_failure_is_gone_refused_or_neither(
    status: int, code: int, gone: bool, refused: bool
) -> None:
    exc = answer(status, code)
    assert (is_gone(exc), is_refused(exc)) == (gone, refused)


def test_the_reason_logged_is_the_status_and_discords_text_or_code() -> None:
    assert gone_text(answer(404, 10008, "Unknown Message")) == "404 Unknown Message"
    assert gone_text(answer(404, 10008)) == "404 10008"
