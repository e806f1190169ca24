"""Players online end to end: the real bot asks the simulated games; snapshots, rings and the
status embed in Discord say so."""

from __future__ import annotations

from pterodisbot.clock import FakeClock
from pterodisbot.query import Answering, QueryProtocol
from pterodisbot.query.service import PlayerQueries
from pterodisbot_sandbox.panel import SimServerSpec
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

# A load above the CPU limit: every slot taken, whatever the moment (players_at is then the max).
FULL = 3.0


async def test_snapshots_and_samples_carry_the_players_the_games_answer(product: Product) -> None:
    clock = FakeClock(autojump=0.02)
    fleet = [
        SimServerSpec("Paper SMP", identifier="mcjava01", game="minecraft", cpu_load=FULL),
        SimServerSpec("Rust Monthly", identifier="rust0001", game="rust", cpu_load=FULL),
        SimServerSpec("Paper Off", identifier="mcoff001", game="minecraft", state="offline"),
    ]
    await product.start(
        panel={"fleet": fleet, "clock": clock, "games": True},
        settings={"query": {"interval": "10", "timeout": "2"}, "monitoring": {"source": "poll"}},
        clock=clock,
        poll_interval=10,
    )
    services = product.services
    assert isinstance(services.players, PlayerQueries)
    monitor = services.monitor

    async def both_counted() -> bool:
        return all(
            (snapshot := monitor.snapshots.get(identifier)) is not None
            and snapshot.players is not None
            and snapshot.sample is not None
            and snapshot.sample.players is not None
            for identifier in ("mcjava01", "rust0001")
        )

    await poll_until(both_counted, within=30, what="players on both running servers' snapshots")
    paper = monitor.snapshots["mcjava01"].players
    rust = monitor.snapshots["rust0001"].players
    assert paper is not None
    assert rust is not None
    assert (paper.answering, paper.target.protocol, paper.online) == (
        Answering.ANSWERING,
        QueryProtocol.MINECRAFT,
        20,
    )
    assert (rust.answering, rust.target.protocol, rust.online) == (
        Answering.ANSWERING,
        QueryProtocol.SOURCE,
        100,
    )
    latest = services.metrics["mcjava01"].latest
    assert latest is not None
    assert latest.players == 20
    assert monitor.snapshots["mcoff001"].players is None
    assert product.panel.game_queries("mcoff001") == {}

    # The status embed in Discord says it: "Players 20 / <the game's max>".
    message_id = await product.post_status("mcjava01")
    message = await product.control.message("status", message_id)
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    most = product.panel.server("mcjava01").max_players
    assert fields["Players"].startswith(f"20 / {most}"), fields
    offline_id = await product.post_status("mcoff001")
    offline = await product.control.message("status", offline_id)
    assert "Players" not in {f["name"] for f in offline["embeds"][0]["fields"]}
