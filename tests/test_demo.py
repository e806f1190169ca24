"""`python -m pterodisbot demo`: one process, one URL, the bot working on a simulated world."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from pterodisbot.demo import Demo, demo_fleet
from pterodisbot.store import RAW, WINDOWS, open_store
from pterodisbot_sandbox.panel import SimulatedPanel
from tests.fixtures.discord import SandboxClient, poll_until
from tests.processes import free_port

REPO = Path(__file__).resolve().parents[1]


# One demo serves every in-process test here (it takes seconds to start); each test uses its own
# servers so that none sees another's crash or restart.
in_demo_loop = pytest.mark.asyncio(loop_scope="module")
# Under `make test`'s workers (pytest-xdist), every test here runs in one worker: one demo.
pytestmark = pytest.mark.xdist_group("demo")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    """Run a demo on a free port, with no embeds posted in advance and no random crashes."""
    workdir = tmp_path_factory.mktemp("demo")
    running = Demo(port=0, chaos=False, seed_embeds=(), workdir=workdir)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return an HTTP session for the test."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as client:
        yield client


async def _get_json(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    async with session.get(url, **kwargs) as response:
        assert response.status == 200, await response.text()
        return await response.json()


@in_demo_loop
async def test_the_demo_store_holds_a_week_for_every_server(demo: Demo) -> None:
    assert demo.settings is not None
    path = demo.settings.history.url.path
    assert path is not None
    assert path.name == "history.sqlite3"
    assert path.is_file()
    store = open_store(demo.settings.history.url)
    assert store is not None
    await store.open()
    try:
        now = time.time()
        week = WINDOWS["7d"]
        for identifier in demo.panel.servers:
            series = await store.series(identifier, now - week.seconds, now, week.step_s)
            if identifier == "terraria":  # being installed: known for half an hour
                assert series.points
                continue
            # Rolled up (the old part is no longer raw) and spanning the week.
            assert series.points[0].t - (now - week.seconds) < 3600
            assert now - series.points[-1].t < 3600
            assert len(series.points) > 900
            uptime = await store.uptime(identifier, now - week.seconds, now)
            # The hour the panel could not be read and the bot's gap are unknown, not down.
            assert 3600 <= uptime.unknown_s < 4 * 3600
            assert uptime.known_s > 6.8 * 86_400
        # Rolled up at start: raw samples are kept for the raw tier's two days only.
        raw = await store.recent(now - week.seconds)
        assert now - float(raw["mcmodded"].t[0]) < RAW.retention_s + 600
        assert now - float(raw["mcmodded"].t[-1]) < 600
        running = await store.uptime("mcmodded", now - week.seconds, now)
        assert running.ratio is not None
        assert running.ratio > 0.95
        stopped = await store.uptime("factorio", now - week.seconds, now)
        assert stopped.ratio is not None
        assert stopped.ratio < 0.9
    finally:
        await store.close()


@in_demo_loop
async def test_demo_info_names_the_bot_endpoint_which_serves_the_week(
    demo: Demo, session: aiohttp.ClientSession
) -> None:
    info = await _get_json(session, f"{demo.url}/_demo/info")
    assert info["http"].startswith("http://127.0.0.1:")
    assert info["http"] != demo.url
    body = await _get_json(
        session, f"{info['http']}/api/servers/mcmodded/history", params={"window": "7d"}
    )
    assert body["server"] == "mcmodded"
    assert body["window"] == "7d"
    assert body["step_seconds"] == 600
    assert len(body["points"]) > 900
    assert time.time() - body["points"][0]["t"] > 6.9 * 86_400
    assert max(point["cpu_max"] or 0 for point in body["points"]) > 0
    assert body["uptime"]["unknown_s"] >= 3600
    assert body["uptime"]["ratio"] > 0.95


def test_demo_fleet_has_every_kind_of_server() -> None:
    fleet = demo_fleet(8)
    states = {(spec.state, spec.status) for spec in fleet}
    assert ("running", None) in states
    assert ("offline", None) in states
    assert ("offline", "installing") in states
    assert ("offline", "suspended") in states
    busiest = max(fleet, key=lambda spec: spec.cpu_load)
    idlest = min(fleet, key=lambda spec: spec.cpu_load)
    assert busiest.game == "minecraft"
    assert idlest.game == "valheim"
    assert len(demo_fleet(3)) == 3
    bigger = demo_fleet(20)
    assert len(bigger) == 20
    assert len({spec.name for spec in bigger}) == 20


def test_a_big_demo_fleet_has_unique_names_without_double_numbers() -> None:
    names = [spec.name for spec in demo_fleet(200)]
    assert len(set(names)) == 200
    assert [name for name in names if name.count("#") > 1] == []
    assert names[:8] == [spec.name for spec in demo_fleet(8)]
    # The panel accepts the fleet: identifiers are unique too.
    assert len(SimulatedPanel(fleet=demo_fleet(200)).servers) == 200


@in_demo_loop
async def test_demo_info_tells_scripts_where_everything_is(
    demo: Demo, session: aiohttp.ClientSession
) -> None:
    info = await _get_json(session, f"{demo.url}/_demo/info")
    assert info["discord_api"] == demo.url
    assert demo.url.startswith("http://127.0.0.1:")
    assert info["panel_url"].startswith("http://127.0.0.1:")
    world = await _get_json(session, f"{info['discord_api']}/_sandbox/world")
    guild = world["guilds"][0]
    assert info["guild_id"] == guild["id"]
    channel_ids = {c["name"]: c["id"] for c in guild["channels"]}
    assert info["channels"] == {name: channel_ids[name] for name in ("status", "alerts", "audit")}
    users = {u["name"]: u["id"] for u in world["users"]}
    assert info["users"] == {name: users[name] for name in ("owner", "operator", "member")}
    roles = {m["user"]: m["roles"] for m in guild["members"]}
    assert roles["owner"] == ["Admin"]
    assert roles["operator"] == ["Operator"]
    assert roles["member"] == []
    # The key really opens the panel's client API.
    servers = await _get_json(
        session,
        f"{info['panel_url']}/api/client",
        headers={
            "Authorization": f"Bearer {info['panel_api_key']}",
            "Accept": "application/json",
        },
    )
    assert len(servers["data"]) == 8


@in_demo_loop
async def test_demo_page_and_its_files_are_served_on_the_demo_url(
    demo: Demo, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{demo.url}/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert 'id="command-input"' in page
    assert "/demo/app.js" in page
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        async with session.get(f"{demo.url}/demo/{name}") as response:
            assert response.status == 200
            assert response.content_type == kind
    async with session.get(f"{demo.url}/demo/..%2F_discord_demo_page.py") as response:
        assert response.status == 404


@in_demo_loop
async def test_sim_controls_reach_the_panel_through_the_demo_url(
    demo: Demo, session: aiohttp.ClientSession
) -> None:
    async with session.post(f"{demo.url}/_sim/servers/valheim1/crash") as response:
        assert response.status == 200
        assert (await response.json())["crashed"] is True
    assert demo.panel.server("valheim1").state == "offline"
    async with session.post(f"{demo.url}/_sim/faults", json={"kind": "down"}) as response:
        assert response.status == 201
    faults = await _get_json(session, f"{demo.url}/_sim/faults")
    assert [f["kind"] for f in faults["faults"]] == ["down"]
    async with session.delete(f"{demo.url}/_sim/faults") as response:
        assert response.status == 204
    assert demo.panel.faults() == []
    async with session.post(f"{demo.url}/_sim/servers/nosuch00/crash") as response:
        assert response.status == 404


async def _events(
    session: aiohttp.ClientSession, url: str, ready: asyncio.Event, out: list[dict[str, Any]]
) -> None:
    async with session.get(f"{url}/_sandbox/events", timeout=aiohttp.ClientTimeout()) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        ready.set()
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data: "):
                out.append(json.loads(line.removeprefix("data: ")))


@in_demo_loop
async def test_event_stream_carries_the_bot_posting_and_editing_a_status_embed(
    demo: Demo, session: aiohttp.ClientSession
) -> None:
    events: list[dict[str, Any]] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(_events(session, demo.url, ready, events))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        control = SandboxClient(demo.url, session)
        result = await control.command(
            "server_status", {"server": "mcsurviv"}, user="member", channel="status", wait=5
        )
        assert result.status == "answered"
        member_id = demo.info()["users"]["member"]

        def seen() -> list[dict[str, Any]]:
            return [e for e in events if e["kind"] in ("create", "update")]

        async def posted() -> bool:
            titles = [
                embed.get("title")
                for e in seen()
                if not e["message"]["flags"] & 64
                for embed in e["message"]["embeds"]
            ]
            private = [
                e
                for e in seen()
                if e["message"]["flags"] & 64
                and "Posted the status" in e["message"]["content"]
                and e["message"]["interaction_metadata"]["user"]["id"] == member_id
            ]
            return "Minecraft Survival" in titles and bool(private)

        await poll_until(posted, within=10, what="the embed and the private answer as events")
        status_channel = demo.info()["channels"]["status"]
        assert all(e["channel_id"] == status_channel for e in events)
        # A crash turns the embed red: an update event, live.
        await session.post(f"{demo.url}/_sim/servers/mcsurviv/crash")

        async def red() -> bool:
            return any(
                e["kind"] == "update"
                and e["message"]["embeds"]
                and e["message"]["embeds"][0]["title"] == "Minecraft Survival"
                and e["message"]["embeds"][0]["color"] == 0xED4245
                for e in events
            )

        await poll_until(red, within=15, what="the embed to turn red in the event stream")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


@in_demo_loop
async def test_demo_roles_operator_may_restart_and_member_may_not(
    demo: Demo, session: aiohttp.ClientSession
) -> None:
    control = SandboxClient(demo.url, session)
    await control.command("server_status", {"server": "palworld"}, channel="status", wait=5)

    async def embed() -> dict[str, Any] | None:
        for message in await control.messages("status"):
            if message["embeds"] and message["embeds"][0]["title"] == "Palworld Community":
                return message
        return None

    message = await poll_until(embed, within=10, what="the status embed")
    buttons = {
        c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]
    }
    refused = await control.click(message["id"], buttons["Restart"], user="member")
    assert refused.ephemeral
    assert "palworld" not in demo.panel.stats()["power"]
    asked = await control.click(message["id"], buttons["Restart"], user="operator")
    confirm = asked.message
    assert confirm is not None
    assert confirm["flags"] & 64
    yes = next(
        c["custom_id"]
        for row in confirm["components"]
        for c in row["components"]
        if c["label"].startswith("Yes")
    )
    done = await control.click(confirm["id"], yes, user="operator")
    assert done.status == "answered"

    async def restarted() -> bool:
        return demo.panel.stats()["power"].get("palworld") == {"restart": 1}

    await poll_until(restarted, within=5, what="the restart to reach the panel")


async def _run_cli(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pterodisbot",
        "demo",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@in_demo_loop
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_demo_command_prints_one_url_and_stops_cleanly_on_a_signal(
    stop_signal: signal.Signals, session: aiohttp.ClientSession
) -> None:
    process = await _run_cli("--port", str(free_port()), "--servers", "2")
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        first = await asyncio.wait_for(process.stdout.readline(), 60)
        urls = re.findall(r"http://[^\s]+", first.decode())
        assert len(urls) == 1, first
        assert urls[0].startswith("http://127.0.0.1:")
        info = await _get_json(session, urls[0] + "_demo/info")
        assert info["discord_api"] == urls[0].rstrip("/")
        process.send_signal(stop_signal)
        code = await asyncio.wait_for(process.wait(), 30)
        rest = (await process.stdout.read()).decode()
        errors = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, errors
    assert "Traceback" not in errors
    assert "http://" not in rest  # one URL, printed once
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get_json(session, urls[0] + "_demo/info")


@in_demo_loop
async def test_demo_info_answers_503_until_the_seeded_embeds_are_posted(
    session: aiohttp.ClientSession,
) -> None:
    # A child process: discord.py's API base is process-wide, so no second bot in this one.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = await _run_cli("--port", str(port), "--servers", "4")
    answers: list[tuple[int, Any]] = []

    async def ready() -> bool:
        try:
            async with session.get(f"{url}/_demo/info") as response:
                answers.append((response.status, await response.json()))
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False  # not listening yet

    try:
        await poll_until(ready, within=60, what="/_demo/info to answer 200")
        # Read at once: were the seeded embeds there when the demo said it was ready?
        status = await SandboxClient(url, session).messages("status")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert answers[0] == (503, {"ready": False})
    assert all(answer == (503, {"ready": False}) for answer in answers[:-1])
    info = answers[-1][1]
    assert info["ready"] is True
    assert info["discord_api"] == url
    titles = [m["embeds"][0]["title"] for m in status if m["embeds"]]
    assert titles == [
        "Fleet — 4 servers",
        "Modded Minecraft (ATM9)",
        "Valheim Vikings",
        "Rust Monthly (flaky)",
    ]


@in_demo_loop
async def test_demo_command_says_so_when_its_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await _run_cli("--port", str(port), "--servers", "1")
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    text = err.decode()
    assert f"cannot listen on 127.0.0.1:{port}" in text
    assert "--port" in text
    assert "Traceback" not in text


@in_demo_loop
async def test_the_demo_has_alerts_on_in_its_alerts_channel(demo: Demo) -> None:
    assert demo.settings is not None
    alerts = demo.settings.alerts
    assert alerts.channel_id == int(demo.info()["channels"]["alerts"])
    # Critical alerts mention a demo role (never @everyone), to show what a mention looks like.
    assert alerts.mention_critical.names == frozenset({"operator"})
    assert alerts.mention_critical.ids == frozenset()
    assert alerts.group_window == 2.0


@in_demo_loop
async def test_a_crash_in_the_demo_is_posted_in_alerts_mentioning_the_operators(
    demo: Demo, session: aiohttp.ClientSession
) -> None:
    alerts_channel = demo.info()["channels"]["alerts"]
    operators = next(r.id for r in demo.sandbox.world.guilds[0].roles if r.name == "Operator")
    control = SandboxClient(demo.url, session)
    # A server no other test here starts, stops or restarts: a power action within the last
    # two minutes would rightly make its offline a stop, not a crash.
    async with session.post(f"{demo.url}/_sim/servers/mcmodded/crash") as response:
        assert response.status == 200, await response.text()

    async def posted() -> dict[str, Any] | None:
        # Other tests here crash servers too: the alert may be grouped with theirs.
        for message in await control.messages(alerts_channel):
            if "Modded Minecraft (ATM9)" in json.dumps(message["embeds"], ensure_ascii=False):
                return message
        return None

    # Within the channel's budget of 3 new messages a minute, whatever the other tests posted.
    message = await poll_until(posted, within=70, what="the mcmodded crash alert in #alerts")
    assert f"<@&{operators}>" in message["content"]
    assert "crashed" in json.dumps(message["embeds"])
