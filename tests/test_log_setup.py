"""Logging: console + rotating file, per-logger levels, and no secret ever written."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
from discord import app_commands

from pterodisbot.bot.bot import CommandBot
from pterodisbot.config import LoggingSettings, Secret
from pterodisbot.log_setup import RedactingFilter, configure_logging
from tests.fixtures.discord import BotRunner, SandboxClient

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"
API_KEY = "ptlc_Z9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeDcBaZyX"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Give the root logger and the loggers we touch back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    touched = ["pterodisbot.test", "noisy.library", "pterodisbot.monitor"]
    levels = {name: logging.getLogger(name).level for name in touched}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    logging.captureWarnings(False)


def settings(file: Path | None = None, **loggers: int) -> LoggingSettings:
    return LoggingSettings(
        level=logging.INFO,
        file=file,
        max_bytes=1024 * 1024,
        backup_count=2,
        loggers={name.replace("__", "."): level for name, level in loggers.items()},
    )


def test_token_and_api_key_are_redacted_from_message_args_and_traceback(tmp_path: Path) -> None:
    stream = io.StringIO()
    log_file = tmp_path / "logs" / "bot.log"
    configure_logging(settings(log_file), secrets=[Secret(TOKEN), API_KEY], stream=stream)
    log = logging.getLogger("pterodisbot.test")

    try:
        raise RuntimeError(f"panel refused key {API_KEY} for token {TOKEN}")
    except RuntimeError:
        log.exception("login with %s failed; header was %r", TOKEN, {"Authorization": API_KEY})
    log.warning(f"inline {TOKEN}/{API_KEY}")

    for output in (stream.getvalue(), log_file.read_text(encoding="utf-8")):
        assert "login with *** failed; header was {'Authorization': '***'}" in output
        assert "RuntimeError: panel refused key *** for token ***" in output
        assert "Traceback (most recent call last)" in output
        assert "inline ***/***" in output
        assert TOKEN not in output
        assert API_KEY not in output


def test_keys_and_bearer_tokens_are_redacted_even_when_unknown() -> None:
    redactor = RedactingFilter()
    text = redactor.redact(
        "GET /api/client Authorization: Bearer ptla_AbCdEf123456 other ptlc_zz9 "
        "and Bearer abc.def-ghi, jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"
    )
    assert text == ("GET /api/client Authorization: Bearer *** other *** and Bearer ***, jwt ***")


def test_interaction_and_webhook_tokens_are_redacted_where_they_sit() -> None:
    token = "aW50ZXJhY3Rpb246MTE3NDEwOTg0NTE5MjcwNDAwMTpzZWNyZXQ-c2VjcmV0X3NlY3JldA"
    redactor = RedactingFilter()

    text = redactor.redact(
        f"POST https://discord.com/api/v10/interactions/1177/{token}/callback returned 204; "
        f"PATCH /api/v10/webhooks/1174/{token}/messages/@original?with_components=true; "
        f"POST /api/v10/webhooks/1174/{token}?wait=true; "
        f"event {{'id': '1177', 'token': '{token}'}} and {{\"token\": \"{token}\"}}"
    )

    assert text == (
        "POST https://discord.com/api/v10/interactions/1177/***/callback returned 204; "
        "PATCH /api/v10/webhooks/1174/***/messages/@original?with_components=true; "
        "POST /api/v10/webhooks/1174/***?wait=true; "
        "event {'id': '1177', 'token': '***'} and {\"token\": \"***\"}"
    )


def test_short_secrets_do_not_garble_every_line() -> None:
    redactor = RedactingFilter(["ab", ""])
    assert redactor.redact("about a cab") == "about a cab"


def test_a_broken_format_string_is_still_logged_and_redacted() -> None:
    record = logging.LogRecord(
        "pterodisbot.test", logging.ERROR, __file__, 1, "bad %d format", (TOKEN,), None
    )

    kept = RedactingFilter([TOKEN]).filter(record)

    line = logging.Formatter("%(message)s").format(record)
    assert kept is True
    assert "bad %d format" in line
    assert TOKEN not in line


def test_per_logger_levels_quiet_one_logger_and_open_up_another() -> None:
    stream = io.StringIO()
    configure_logging(
        settings(noisy__library=logging.ERROR, pterodisbot__monitor=logging.DEBUG), stream=stream
    )

    logging.getLogger("noisy.library").warning("chatter")
    logging.getLogger("noisy.library").error("real trouble")
    logging.getLogger("pterodisbot.monitor").debug("poll details")
    logging.getLogger("pterodisbot.test").debug("hidden at INFO")

    output = stream.getvalue()
    assert "chatter" not in output
    assert "real trouble" in output
    assert "poll details" in output
    assert "hidden at INFO" not in output


def test_configuring_twice_replaces_the_handlers_instead_of_doubling_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(settings(), stream=first)
    configure_logging(settings(), stream=second)

    logging.getLogger("pterodisbot.test").info("once")

    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1


def test_the_log_file_rotates_at_max_bytes(tmp_path: Path) -> None:
    log_file = tmp_path / "bot.log"
    small = LoggingSettings(logging.INFO, log_file, max_bytes=2048, backup_count=2, loggers={})
    configure_logging(small, stream=io.StringIO())

    for index in range(100):
        logging.getLogger("pterodisbot.test").info("line %03d %s", index, "x" * 60)

    assert (tmp_path / "bot.log.1").exists()
    assert (tmp_path / "bot.log.2").exists()
    assert not (tmp_path / "bot.log.3").exists()
    assert "line 099" in log_file.read_text(encoding="utf-8")


def test_an_unwritable_log_file_fails_at_configuration_time(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        configure_logging(settings(blocker / "bot.log"), stream=io.StringIO())


@app_commands.command(name="slow_answer", description="Defer, follow up, edit the original")
async def slow_answer(interaction: discord.Interaction) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.followup.send("first", ephemeral=True)
    await interaction.edit_original_response(content="edited")


async def test_interaction_tokens_are_redacted_from_discord_py_debug_lines(
    bot_runner: BotRunner, discord_control: SandboxClient
) -> None:
    stream = io.StringIO()
    debug = LoggingSettings(logging.DEBUG, None, max_bytes=1024, backup_count=0, loggers={})
    configure_logging(debug, secrets=[Secret(bot_runner.sandbox.bot_token)], stream=stream)

    def add_command(bot: CommandBot) -> None:
        bot.tree.add_command(slow_answer)

    await bot_runner.start(setup=add_command)
    result = await discord_control.interact(
        {
            "type": "command",
            "name": "slow_answer",
            "user_id": "owner",
            "wait": 5,
            "min_followups": 2,
        }
    )
    output = stream.getvalue()
    app_id = bot_runner.sandbox.world.application_id

    assert [f["kind"] for f in result.followups] == ["followup", "edit_original"]
    assert result.token not in output
    # The lines stay, with the token's place marked.
    assert f"/interactions/{result.id}/***/callback" in output
    assert f"POST {bot_runner.sandbox.url}/api/v10/webhooks/{app_id}/*** has returned" in output
    assert f"/webhooks/{app_id}/***/messages/@original" in output
    # discord.py logs every gateway event at DEBUG, INTERACTION_CREATE with its token field.
    assert "'token': '***'" in output
