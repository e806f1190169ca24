"""Edits per server-hour: what the status board sends against "edit every poll".

One simulated hour on a `FakeClock`, everything real but Discord's gateway: the simulated panel
(20 s resources cache, moving CPU and memory, two crashes and a restart), the panel client over
HTTP, the monitor polling every 10 s, and the bot's `StatusBoard` and `EditPump` at the default
settings keeping one status embed per server current in the Discord sandbox (one channel). The
edits counted are the message edits the sandbox received (PATCH, answered 200); posting the
embeds before the hour is not counted. The baseline is one edit per poll.

The figure depends on the fleet (its CPU spikes above all): the panel's seed stays 7, the fleet
earlier figures were measured on, so runs compare.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench._board import EDIT_ROUTE, Pipeline, Work, default_settings, run_quietly
from pterodisbot.bot import discord_api
from pterodisbot.clock import FakeClock
from pterodisbot.monitor import ServerSnapshot
from pterodisbot.panel.models import PowerSignal
from pterodisbot_sandbox.discord_server import DiscordSandbox, RateLimits
from pterodisbot_sandbox.panel import SimulatedPanel

SERVERS = 20
SEED = 7
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Figures:
    """What one simulated hour produced."""

    edits: int
    polls: int
    reasons: Counter[str]
    coalesced: int
    failed: int


class _EditReasons(logging.Handler):
    """Count the board's "message edited (<reason>)" debug lines by reason."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reasons: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).endswith("edited (%s)") and isinstance(record.args, tuple):
            self.reasons[str(record.args[-1])] += 1


async def _scenario(monitoring: dict[str, str]) -> Figures:
    clock = FakeClock()
    work = Work()
    asyncio.get_running_loop().set_default_executor(work.executor)
    panel = SimulatedPanel(servers=SERVERS, clock=clock, seed=SEED)
    await panel.start()
    # No rate limit answers: discord.py would wait them out in real time while the simulated
    # clock runs on. The pump's pace (one edit per channel per 1.1 s) stays under Discord's.
    sandbox = DiscordSandbox(clock=clock, rate_limits=RateLimits.off())
    await sandbox.start()
    guild = sandbox.world.guilds[0]
    channel = sandbox.world.channel("status")
    board_log = logging.getLogger("pterodisbot.bot.status_board")
    reasons = _EditReasons()
    board_log.addHandler(reasons)
    board_log.setLevel(logging.DEBUG)
    try:
        with tempfile.TemporaryDirectory() as workdir, discord_api.api_base(sandbox.url):
            settings = default_settings(
                panel_url=panel.url,
                api_key=panel.api_key,
                discord_url=sandbox.url,
                workdir=Path(workdir),
                monitoring=monitoring,
            )
            pipeline = await Pipeline.start(settings, clock=clock, work=work)
            try:
                return await _hour(
                    pipeline,
                    panel=panel,
                    sandbox=sandbox,
                    clock=clock,
                    work=work,
                    reasons=reasons,
                    where=(guild.id, channel.id),
                )
            finally:
                await pipeline.close()
    finally:
        board_log.removeHandler(reasons)
        await sandbox.stop()
        await panel.stop()


async def _hour(
    pipeline: Pipeline,
    *,
    panel: SimulatedPanel,
    sandbox: DiscordSandbox,
    clock: FakeClock,
    work: Work,
    reasons: _EditReasons,
    where: tuple[int, int],
) -> Figures:
    guild_id, channel_id = where
    monitor = pipeline.monitor
    first = asyncio.create_task(monitor.poll_once())
    while not first.done():
        await run_quietly(clock, 0.5, work)
    first.result()
    await pipeline.post(guild_id, [channel_id], list(monitor.snapshots))
    before = sandbox.requests.last_seq
    reasons.reasons.clear()

    polls = 0

    def count(_snap: ServerSnapshot, _previous: ServerSnapshot | None) -> None:
        nonlocal polls
        polls += 1

    monitor.add_listener(count)
    pipeline.board.attach()
    running = [s.identifier for s in panel.servers.values() if s.state == "running"]

    async def events() -> None:
        # Two crashes and a restart, as the day of a small community brings.
        await clock.sleep(900)
        panel.servers[running[0]].crash()
        await clock.sleep(900)
        panel.servers[running[1]].crash()
        await pipeline.api.send_power(running[0], PowerSignal.START)

    happenings = asyncio.create_task(events())
    monitor.start()
    await run_quietly(clock, HOUR, work)
    await monitor.stop()
    happenings.cancel()
    # Edits already queued still go out, as they would while the bot runs on.
    drained = asyncio.create_task(pipeline.pump.drain())
    while not drained.done():
        await run_quietly(clock, 0.5, work)
    sent = [e for e in sandbox.requests.since(before) if e["route"] == EDIT_ROUTE]
    return Figures(
        edits=sum(1 for e in sent if e["status"] == 200),
        polls=polls,
        reasons=Counter(reasons.reasons),
        coalesced=pipeline.pump.stats.coalesced,
        failed=sum(1 for e in sent if e["status"] != 200),
    )


def main() -> None:
    """Print edits per server-hour at the defaults and with a shorter graph age."""
    # Quiet: the bot's own log lines would drown the figures (the board's debug lines are
    # counted by reason, not printed).
    logging.getLogger().setLevel(logging.ERROR)
    for label, monitoring in (
        ("defaults (graph_max_age 600 s)", {}),
        ("graph_max_age 120 s", {"graph_max_age": "120"}),
    ):
        began = time.perf_counter()
        figures = asyncio.run(_scenario(monitoring))
        per_server = figures.edits / SERVERS
        baseline = figures.polls / SERVERS
        why = ", ".join(f"{reason} {n}" for reason, n in figures.reasons.most_common())
        print(
            f"{label:32s} edits/server-hour {per_server:6.1f}  baseline {baseline:6.1f}  "
            f"reduction {100 * (1 - figures.edits / figures.polls):5.1f} %  "
            f"(edits by reason: {why}; coalesced in the pump {figures.coalesced}; "
            f"failed {figures.failed}; {time.perf_counter() - began:.1f} s wall)",
            flush=True,
        )
