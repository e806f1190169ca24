"""`assess()`: the health judgement alone, and the probe command Docker runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from pterodisbot.monitor import MonitorLiveness
from pterodisbot.web.gateway import GatewayState
from pterodisbot.web.health import EmbedsHealth, assess
from pterodisbot.web.probe import main as probe_main

UP = GatewayState(connected=True, since=0.0, disconnects=0, resumes=0, latency=0.05)
DOWN = GatewayState(connected=False, since=0.0, disconnects=1, resumes=0, latency=None)
# 300 servers under 600 requests/min: a cycle takes 30.5 s, and the loop is stuck after 400 s.
LOOP = MonitorLiveness(running=True, last_progress=990.0, expected_cycle=30.5, stall_after=400.0)


def _assess(gateway: GatewayState = UP, monitor: MonitorLiveness = LOOP, **kw: object):
    options: dict[str, object] = {
        "gateway": gateway,
        "monitor": monitor,
        "last_poll_completed": 950.0,
        "poll_interval": 10.0,
        "panel_reachable": True,
        "servers": 300,
        "now": 1000.0,
    }
    options.update(kw)
    return assess(**options)  # type: ignore[arg-type]


def test_healthy_with_a_connected_gateway_and_a_loop_making_progress() -> None:
    report = _assess()
    assert report.healthy
    body = report.to_json()
    assert body["status"] == "ok"
    assert body["monitor"] == {
        "running": True,
        "last_progress_age_seconds": 10.0,
        "expected_cycle_seconds": 30.5,
        "stall_after_seconds": 400.0,
    }
    assert body["last_poll_age_seconds"] == 50.0


def test_a_cycle_paced_past_three_poll_intervals_is_healthy() -> None:
    # The last cycle ended 90 s ago (nine poll intervals) but calls keep finishing.
    report = _assess(last_poll_completed=910.0)
    assert report.healthy


def test_a_loop_without_progress_past_its_stall_limit_is_unhealthy_and_says_how_long() -> None:
    stuck = MonitorLiveness(
        running=True, last_progress=590.0, expected_cycle=30.5, stall_after=400.0
    )
    report = _assess(monitor=stuck)
    assert not report.healthy
    assert report.reasons == (
        "the monitor's poll loop has made no progress for 410 s (a cycle should take 30 s; "
        "stuck after 400 s)",
    )


def test_a_loop_that_ended_and_a_dropped_gateway_are_both_named() -> None:
    ended = MonitorLiveness(running=False, last_progress=990.0, expected_cycle=10.0, stall_after=1)
    report = _assess(gateway=DOWN, monitor=ended, last_poll_completed=None)
    assert report.reasons == (
        "Discord gateway is not connected",
        "the monitor's poll loop is not running",
    )


def test_an_unreachable_panel_is_reported_but_not_unhealthy() -> None:
    report = _assess(panel_reachable=False)
    assert report.healthy
    assert report.to_json()["panel_reachable"] is False


@pytest.fixture
async def health_url() -> AsyncIterator[tuple[str, dict[str, int]]]:
    """Serve a /healthz whose answer the test picks; return its URL and the switch."""
    status = {"code": 200}

    async def healthz(request: web.Request) -> web.Response:
        if status["code"] == 200:
            return web.json_response({"status": "ok"})
        return web.json_response({"reasons": ["Discord gateway is not connected"]}, status=503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/healthz", status
    finally:
        await runner.cleanup()


async def test_probe_exits_0_when_healthy_and_1_with_the_reason_when_not(
    health_url: tuple[str, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, status = health_url
    assert await asyncio.to_thread(probe_main, ["--url", url]) == 0
    assert capsys.readouterr().out == "healthy (200)\n"

    status["code"] = 503
    assert await asyncio.to_thread(probe_main, ["--url", url]) == 1
    assert capsys.readouterr().err == "unhealthy (503): Discord gateway is not connected\n"


async def test_probe_exits_1_when_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(probe_main, ["--url", "http://127.0.0.1:9/healthz"])
    assert code == 1
    assert capsys.readouterr().err.startswith("no answer from http://127.0.0.1:9/healthz")


def test_blocked_embeds_and_a_recent_save_failure_are_reported_but_healthy() -> None:
    embeds = EmbedsHealth(blocked=2, save_failing_for=299.0, save_error="Not a directory")
    report = _assess(embeds=embeds)
    assert report.healthy
    assert report.to_json()["embeds"] == {
        "blocked": 2,
        "save_failing_seconds": 299.0,
        "save_error": "Not a directory",
    }


def test_saves_failing_for_more_than_five_minutes_are_unhealthy_and_say_why() -> None:
    embeds = EmbedsHealth(blocked=0, save_failing_for=301.0, save_error="Not a directory")
    report = _assess(embeds=embeds)
    assert not report.healthy
    assert report.reasons == (
        "cannot save the status embed locations for 301 s (Not a directory): embeds posted or "
        "removed since then are forgotten at the next restart; make the locations folder "
        "writable",
    )
