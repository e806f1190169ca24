"""The bot as a process: start lines, SIGHUP reload, SIGTERM shutdown, second signal, panel down."""

from __future__ import annotations

import asyncio
import logging
import signal
import stat

import pytest

from pterodisbot import __version__
from pterodisbot.app import build_bot
from pterodisbot.bot.audit import AUDIT_FILENAME, AuditFile
from pterodisbot.bot.cogs.power import success_text
from pterodisbot.bot.views import ButtonAction
from pterodisbot.lifecycle import ShutdownSignals, report_progress
from pterodisbot.web import WebServer
from tests.fixtures.discord import InteractionResult, poll_until
from tests.fixtures.outside import Outside
from tests.fixtures.product import BOT_TOKEN, Product

# ------------------------------------------------------------------ signals, without a process


def test_first_sigterm_asks_for_a_clean_stop_and_a_second_forces_the_exit() -> None:
    stop = asyncio.Event()
    forced: list[int] = []
    signals = ShutdownSignals(stop, force_exit=forced.append)

    signals.handle(signal.SIGTERM)
    assert stop.is_set()
    assert forced == []

    signals.handle(signal.SIGINT)
    assert forced == [128 + signal.SIGINT]


def test_sighup_reloads_and_does_not_stop() -> None:
    stop = asyncio.Event()
    reloads: list[bool] = []
    signals = ShutdownSignals(stop, on_reload=lambda: reloads.append(True), force_exit=_never)

    signals.handle(signal.SIGHUP)
    signals.handle(signal.SIGHUP)

    assert reloads == [True, True]
    assert not stop.is_set()


def _never(code: int) -> None:
    raise AssertionError(f"forced exit {code}")


# ------------------------------------------------------------------ panel down at start


async def test_bot_starts_with_the_panel_down_says_so_and_recovers(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.lifecycle")
    # No retries: each poll gives up on the dead panel at once instead of backing off.
    await product.start(settings={"pterodactyl": {"max_retries": "0"}})
    await product.stop_bot()
    await product.sim("POST", "/faults", json={"kind": "down"})
    # Started by hand: the product fixture waits for servers, which a dead panel never lists.
    bot = build_bot(product.settings(), guild_ready_timeout=0.05)
    services = bot.services
    services.monitor.poll_interval = 0.3
    runner = asyncio.create_task(bot.start(BOT_TOKEN))
    web = WebServer(bot, port=0)
    await web.start()
    progress = asyncio.create_task(report_progress(bot, product.settings()))
    try:

        async def said_down() -> bool:
            return any("is not reachable" in r.getMessage() for r in caplog.records)

        await poll_until(said_down, within=10, what="the 'panel not reachable' line")
        assert services.monitor.servers == {}

        async def healthz() -> dict[str, object] | None:
            async with product.session.get(web.url + "/healthz") as answer:
                body: dict[str, object] = await answer.json()
            return body if answer.status == 200 else None

        # The bot itself is fine (Discord works, polls run); the panel is reported, not fatal.
        body = await poll_until(healthz, within=10, what="/healthz 200 with the panel down")
        assert body["panel_reachable"] is False
        assert runner.done() is False

        await product.sim("DELETE", "/faults")

        async def recovered() -> bool:
            return len(services.monitor.servers) == 6 and any(
                "reachable again: 6 server(s) found" in r.getMessage() for r in caplog.records
            )

        await poll_until(recovered, within=10, what="the bot to find the servers again")
        result = await product.control.command("server_list", user="member")
        assert result.status == "answered"
        assert len(result.embeds) >= 1
    finally:
        progress.cancel()
        await web.stop()
        await bot.close()
        await asyncio.wait_for(runner, 5)


# ------------------------------------------------------------------ the real process

POWER_ROUTE = "POST /api/client/servers/{server}/power"


async def test_sigterm_during_a_slow_restart_finishes_it_answers_and_audits_it(
    outside: Outside,
) -> None:
    # A restart the panel takes 3 s to answer (less than the shutdown grace) is under way when
    # SIGTERM arrives: it must end as it would have without the signal.
    outside.write_config(outside.config_text() + "[permissions]\nconfirm_dangerous = false\n")
    server = outside.panel.pick("running")
    bot = await outside.start_bot()

    await poll_until(outside.ready, within=30, what="the bot process to be healthy and synced")
    posted = await outside.control.command(
        "server_status", {"server": server.identifier}, channel="status", wait=5
    )
    assert posted.status == "answered", posted.raw

    async def status_message() -> str | None:
        messages = await outside.control.messages("status")
        return next((str(m["id"]) for m in messages if m.get("components")), None)

    message_id = await poll_until(status_message, within=5, what="the status embed")
    outside.panel.add_fault("slow_power", servers=[server.identifier], delay=3)
    click = await outside.control.click(message_id, f"pdb:restart:{server.identifier}")
    assert click.content == f"Restarting **{server.name}**…"

    async def panel_waiting() -> bool:
        return outside.panel.stats()["requests"].get(POWER_ROUTE, 0) == 1

    await poll_until(panel_waiting, within=5, what="the restart to reach the panel")
    bot.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(bot.communicate(), 10)
    async with outside.session.get(
        f"{outside.sandbox.url}/_sandbox/interactions/{click.id}"
    ) as answer:
        record = InteractionResult(await answer.json())

    assert bot.returncode == 0
    assert outside.panel.stats()["power"] == {server.identifier: {"restart": 1}}
    assert outside.panel.servers[server.identifier].state != "running"  # restarting for real
    assert record.content == success_text(ButtonAction.RESTART, server.name)
    audit_file = AuditFile(outside.tmp / "embed" / AUDIT_FILENAME)
    assert [(e["action"], e["outcome"]) for e in audit_file.read()] == [
        ("restart", "sending"),
        ("restart", "ok"),
    ]
    assert stat.S_IMODE(audit_file.path.stat().st_mode) == 0o600
    assert "shutdown: waiting for 1 power action(s) still in progress" in outside.log_text()
    output = outside.log_text() + stderr.decode()
    assert "Traceback" not in output
    assert outside.log_text().rstrip().endswith("Pterodisbot stopped")


async def test_the_process_starts_reloads_on_sighup_and_stops_cleanly_on_sigterm(
    outside: Outside,
) -> None:
    outside.write_config(outside.config_text())
    bot = await outside.start_bot()

    async def healthy() -> bool:
        return await outside.health() == 200 and "guild(s)" in outside.log_text()

    await poll_until(healthy, within=30, what="the bot process to be healthy")
    lines = outside.log_text().splitlines()
    panel_host = outside.panel.url.removeprefix("http://")
    guild = outside.sandbox.world.guilds[0]
    assert (
        f"Pterodisbot {__version__} starting: panel {panel_host}, poll every 2 s, "
        f"guilds {guild.id}" in lines[0]
    )
    text = outside.log_text()
    assert f"panel {panel_host} reachable: 3 server(s) found" in text
    assert f"in 1 guild(s): {guild.name} ({guild.id})" in text

    # A valid change is applied and logged ...
    outside.write_config(outside.config_text(poll_interval="4"))
    bot.send_signal(signal.SIGHUP)

    async def applied() -> bool:
        return "applied monitoring.poll_interval: 2 -> 4" in outside.log_text()

    await poll_until(applied, within=10, what="the reload to be applied")

    # ... an invalid one is refused, and the bot runs on.
    outside.write_config(outside.config_text(poll_interval="0"))
    bot.send_signal(signal.SIGHUP)

    async def refused() -> bool:
        return "monitoring.poll_interval: '0' — expected a number of seconds" in (
            outside.log_text()
        )

    await poll_until(refused, within=10, what="the reload to be refused")
    assert "config.ini refused; the running configuration stays" in outside.log_text()
    assert await outside.health() == 200

    bot.send_signal(signal.SIGTERM)
    # Docker kills 10 s after SIGTERM: the whole shutdown must fit in that.
    _, stderr = await asyncio.wait_for(bot.communicate(), 10)

    assert bot.returncode == 0
    text = outside.log_text()
    assert "SIGTERM: shutting down" in text
    assert text.rstrip().endswith("Pterodisbot stopped")
    output = text + stderr.decode()
    assert "Traceback" not in output
    assert BOT_TOKEN not in output
    assert outside.panel.api_key not in output
    gateway = outside.sandbox.gateway
    assert gateway.connected_sessions() == []
