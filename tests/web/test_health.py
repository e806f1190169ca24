"""`assess()`: the health judgement alone, and the probe command Docker runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from pterodisbot.web.gateway import GatewayState
from pterodisbot.web.health import EmbedsHealth, assess
from pterodisbot.web.probe import main as probe_main

UP = GatewayState(connected=True, since=0.0, disconnects=0, resumes=0, latency=0.05)
DOWN = GatewayState(connected=False, since=0.0, disconnects=1, resumes=0, latency=None)


def _assess(gateway: GatewayState = UP, completed: float | None = 990.0, **kw: object):
    options: dict[str, object] = {
        "gateway": gateway,
        "last_poll_completed": completed,
        "poll_interval": 10.0,
        "panel_reachable": True,
        "servers": 3,
        "now": 1000.0,
    }
    options.update(kw)
    return assess(**options)  # type: ignore[arg-type]


def test_healthy_with_a_connected_gateway_and_a_poll_within_three_intervals() -> None:
    report = _assess(completed=971.0)
    assert report.healthy
    assert report.to_json()["status"] == "ok"
    assert report.to_json()["last_poll_age_seconds"] == 29.0


def test_a_poll_older_than_three_intervals_is_unhealthy_and_says_how_old() -> None:
    report = _assess(completed=969.0)
    assert not report.healthy
    assert report.reasons == ("last poll finished 31 s ago, more than 3 poll intervals (30 s)",)


def test_no_poll_yet_and_a_dropped_gateway_are_both_named() -> None:
    report = _assess(gateway=DOWN, completed=None)
    assert report.reasons == (
        "Discord gateway is not connected",
        "no poll of the panel has completed yet",
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
