"""Re-reading config.ini into a running bot: `/reload_config` and `reload_config()`."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest

from pterodisbot.__main__ import main
from pterodisbot.config import DEFAULTS, LIVE_KEYS, load_settings
from pterodisbot.reload import diff_settings, reload_config
from tests.fixtures.product import BOT_TOKEN, Product


def _config_text(product: Product, **changes: dict[str, str]) -> str:
    """Return a config.ini equal to the product's running settings, with `changes` on top."""
    sections = product.sections()
    for section, values in changes.items():
        sections.setdefault(section, {}).update(values)
    return "".join(
        f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
        for name, values in sections.items()
    )


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def config_file(product: Product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config.ini path the running bot believes it was started from (write it in the test)."""
    for name in ("DISCORD_TOKEN", "PTERODACTYL_API_KEY", "PTERODACTYL_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "config.ini"


async def _adopt(
    product: Product, path: Path, settings: dict[str, dict[str, str]] | None = None
) -> None:
    await product.start(settings=settings)
    _write(path, _config_text(product))
    services = product.services
    services.settings = dataclasses.replace(services.settings, config_path=path)


async def test_reload_config_applies_interval_thresholds_permissions_and_channel(
    product: Product, config_file: Path
) -> None:
    await _adopt(product, config_file)
    assert (await product.control.command("server_list", user="member")).status == "answered"
    audit = await product.control.channel_id("audit")
    _write(
        config_file,
        _config_text(
            product,
            monitoring={"poll_interval": "5", "cpu_threshold": "40", "forced_refresh": "900"},
            permissions={"status": "Admin"},
            discord={"audit_channel_id": audit},
        ),
    )

    result = await product.control.command("reload_config", user="owner")

    assert result.ephemeral
    assert result.content.startswith("config.ini reloaded: 5 change(s) applied")
    assert "monitoring.poll_interval: 2 -> 5" in result.content
    services = product.services
    assert services.monitor.poll_interval == 5
    assert services.board.thresholds.cpu_points == 40
    assert services.board.thresholds.forced_refresh == 900
    assert services.settings.discord.audit_channel_id == int(audit)
    assert services.audit is not None
    assert services.audit.channel_id == int(audit)
    # The change itself is in the audit trail, posted to the channel it just configured.
    posted = await product.control.wait_for_message("audit", within=5)
    headline = posted["embeds"][0]["description"].splitlines()[0]
    assert re.fullmatch(r"Config reload by <@\d+> · config\.ini", headline), headline
    assert "monitoring.poll_interval: 2 -> 5" in posted["embeds"][0]["description"]
    # The new [permissions] status = Admin now keeps plain members out.
    refused = await product.control.command("server_list", user="member")
    assert "don't have a role" in refused.content


async def test_reload_config_names_what_needs_a_restart_and_leaves_it_alone(
    product: Product, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await _adopt(product, config_file)
    caplog.set_level(logging.INFO, logger="pterodisbot.reload")
    size_before = product.services.settings.monitoring.history_size
    assert size_before != 100
    _write(
        config_file,
        _config_text(
            product,
            pterodactyl={"url": "https://panel.elsewhere.example"},
            monitoring={"history_size": "100"},
        ),
    )

    result = await product.control.command("reload_config", user="owner")

    assert "0 change(s) applied, 2 need a restart" in result.content
    assert "needs a restart (not applied) pterodactyl.url" in result.content
    assert product.services.settings.pterodactyl.url == product.panel.url
    assert product.services.settings.monitoring.history_size == size_before
    logged = [r.getMessage() for r in caplog.records]
    assert any("needs a restart (not applied) monitoring.history_size" in m for m in logged)


async def test_an_invalid_file_is_refused_with_check_config_messages_and_nothing_changes(
    product: Product,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _adopt(product, config_file)
    before = product.services.settings
    _write(
        config_file, _config_text(product, monitoring={"poll_interval": "0", "cpu_treshold": "5"})
    )

    result = await product.control.command("reload_config", user="owner")

    monkeypatch.setenv("DISCORD_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("PTERODACTYL_API_KEY", product.panel.api_key)
    main(["check-config", "--config", str(config_file)])
    check_config = capsys.readouterr().out
    assert check_config.startswith("configuration has 2 problem(s):")
    assert result.content.startswith("config.ini refused; the running configuration stays:")
    for line in check_config.splitlines():
        assert line.strip() in result.content
    assert product.services.settings is before
    assert product.services.monitor.poll_interval == 0.3


async def test_only_admins_may_reload(product: Product, config_file: Path) -> None:
    # Nobody is the bot's admin; the guild owner still sees the command (Manage Server).
    await _adopt(
        product, config_file, {"permissions": {"admin": "", "allow_administrator": "false"}}
    )
    _write(config_file, _config_text(product, monitoring={"poll_interval": "30"}))

    result = await product.control.command("reload_config", user="owner")

    assert result.content == "Only the bot's admins may reload the configuration."
    assert product.services.monitor.poll_interval == 0.3


async def test_reload_without_a_config_file_is_refused(product: Product) -> None:
    await product.start()

    outcome = reload_config(product.services)

    assert not outcome.ok
    assert outcome.refused == "the running configuration was not read from a file"


def test_diff_never_shows_a_secret_and_ignores_secrets_a_reload_could_not_find(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.ini"
    path.write_text("[pterodactyl]\nurl = https://panel.example.com\n")
    key = "ptlc_" + "A1b2C3d4" * 5
    env = {
        "DISCORD_TOKEN": "MTIz.GhIj.abcdefghijklmnopqrstuvwxyz0123456",
        "PTERODACTYL_API_KEY": key,
    }
    running = load_settings(path, env=env)
    changed_key = load_settings(path, env={**env, "PTERODACTYL_API_KEY": key + "x"})
    no_secrets = load_settings(path, env={}, require_secrets=False)

    assert diff_settings(running, no_secrets) == []
    [change] = diff_settings(running, changed_key)
    assert str(change) == "pterodactyl.api_key: *** -> ***"
    assert not change.live


def test_the_settings_table_marks_live_the_keys_a_reload_has_always_applied() -> None:
    actions = ("status", "address", "start", "stop", "restart", "kill", "alerts", "admin")
    live = frozenset(LIVE_KEYS)
    # Every [alerts] key but the channel (the alerts service exists only if it is set).
    alerts = {f"alerts.{key}" for key in DEFAULTS["alerts"]} - {"alerts.channel_id"}
    assert live == {
        "monitoring.poll_interval",
        "monitoring.server_list_refresh",
        "monitoring.cpu_threshold",
        "monitoring.memory_threshold",
        "monitoring.forced_refresh",
        "monitoring.graph_window",
        "monitoring.graph_max_age",
        "monitoring.servers",
        "discord.audit_channel_id",
        "discord.edit_interval",
        "permissions.allow_administrator",
        "permissions.confirm_dangerous",
        "permissions.hide_address",
        *(f"permissions.{action}" for action in actions),
        *alerts,
        "alerts.servers",
    }


def test_a_diff_marks_each_change_live_or_restart_as_the_settings_table_says(
    tmp_path: Path,
) -> None:
    env = {"DISCORD_TOKEN": BOT_TOKEN, "PTERODACTYL_API_KEY": "ptlc_" + "A1b2C3d4" * 5}
    path = tmp_path / "config.ini"
    _write(path, "[pterodactyl]\nurl = https://panel.example.com\n")
    running = load_settings(path, env=env)
    _write(
        path,
        "[pterodactyl]\nurl = https://panel.example.com\ntimeout = 20\n"
        "[monitoring]\npoll_interval = 30\nhistory_size = 100\n"
        "[permissions]\nkill = Admin\n[permissions.1a2b3c4d]\nstart = Mods\n",
    )
    changes = {
        change.key: change.live for change in diff_settings(running, load_settings(path, env=env))
    }

    assert changes == {
        "pterodactyl.timeout": False,
        "monitoring.poll_interval": True,
        "monitoring.history_size": False,
        "permissions.kill": True,
        "permissions.1a2b3c4d.start": True,
    }
