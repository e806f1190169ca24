"""The fleet boards' pace with players: a moving count alone edits rarely, a silence soon."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from pterodisbot.app import build_services
from pterodisbot.bot.edit_pump import EditJob, EditPump
from pterodisbot.bot.fleet_service import FleetBoard, FleetBoardFile, FleetBoards
from pterodisbot.bot.services import BotServices
from pterodisbot.clock import FakeClock
from pterodisbot.config import settings_from_sections
from pterodisbot.query import Answering, QueryFailure
from tests.snapshots import make_players, make_server, make_snapshot


class RecordingPump(EditPump):
    """The pump, recording when each edit is handed over instead of sending it to Discord."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.clock = clock
        self.at: list[float] = []

    def submit(self, channel_id: int, message_id: int, job: EditJob) -> None:
        """Record the edit's time (the board's own rendering is tested elsewhere)."""
        self.at.append(self.clock.monotonic())


@pytest.fixture
async def services() -> AsyncIterator[BotServices]:
    settings = settings_from_sections(
        {"pterodactyl": {"url": "http://127.0.0.1:9"}, "history": {"url": "none"}},
        env={"PTERODACTYL_API_KEY": "ptlc_" + "k" * 43},
        require_token=False,
    )
    built = build_services(settings, discord.Client(intents=discord.Intents.none()), FakeClock())
    try:
        yield built
    finally:
        await built.api.close()


async def test_a_moving_count_edits_every_five_minutes_a_silent_game_at_once(
    services: BotServices, tmp_path: Path
) -> None:
    clock = FakeClock()
    pump = RecordingPump(clock)
    file = FleetBoardFile(tmp_path / "fleet_boards.json", clock=clock)
    await file.save([FleetBoard(1, 2, 3)])
    fleet = FleetBoards(
        client=discord.Client(intents=discord.Intents.none()),
        monitor=services.monitor,
        pump=pump,
        file=file,
        clock=clock,
    )
    await fleet.load()
    services.monitor.last_cycle_completed = clock.time()
    server = make_server()
    fleet.start()
    try:
        # A query round every 30 s, each with one more player, for ten minutes.
        for round_ in range(20):
            snap = make_snapshot(server=server, players=make_players(10 + round_), t=clock.time())
            fleet.observe(snap, None)
            await clock.run_for(30, step=1)
        await clock.run_for(10, step=1)
        assert [round(t - pump.at[0]) for t in pump.at] == [0, 300, 600]
        hung = make_players(
            29, answering=Answering.NOT_ANSWERING, failure=QueryFailure.TIMEOUT, since=clock.time()
        )
        fleet.observe(make_snapshot(server=server, players=hung, t=clock.time()), None)
        await clock.run_for(31, step=1)
        # Seen 10 s after the last edit: shown 30 s after that edit, not 300 s.
        assert [round(t - pump.at[0]) for t in pump.at] == [0, 300, 600, 630]
    finally:
        await fleet.close()
