"""`doctor` says in one line which servers' games will be asked for their players."""

from __future__ import annotations

import io

from pterodisbot.config import settings_from_sections
from pterodisbot.doctor import run_doctor
from pterodisbot_sandbox.panel import SimulatedPanel
from tests.fixtures.panel import MakeSimPanel
from tests.query.conftest import GAMES

KEY = "ptlc_DoctorKey0123456789abcdefghijklmnopqrstu"


async def players_line(panel: SimulatedPanel, query: dict[str, str]) -> str:
    sections = {"pterodactyl": {"url": panel.url}, "history": {"url": "none"}, **query}
    settings = settings_from_sections(
        sections, env={"PTERODACTYL_API_KEY": KEY}, require_token=False
    )
    out = io.StringIO()
    await run_doctor(settings, out=out)
    (line,) = [line for line in out.getvalue().splitlines() if "players online" in line]
    return line.strip()


async def test_doctor_counts_the_servers_asked_by_protocol(make_sim_panel: MakeSimPanel) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=list(GAMES))
    # Read from the eggs: two Paper, one Bedrock, Rust, Valheim, Palworld, Garry's Mod, ARK,
    # Counter-Strike 2 and 7 Days to Die;
    # Factorio answers no query the bot knows.
    assert await players_line(panel, {}) == (
        "✓ players online: 10 of 11 server(s) asked while running (2 minecraft, 1 bedrock, "
        "7 source); 1 not asked (no known game query: set [query.<server>] protocol, host "
        "and port for those that answer one)"
    )
    # [query.<server>]: Factorio asked as Bedrock (say), Rust and Palworld never.
    overridden = {
        "query.factorio": {"protocol": "bedrock"},
        "query.rust0001": {"protocol": "none"},
        "query.palworld": {"protocol": "none"},
    }
    assert await players_line(panel, overridden) == (
        "✓ players online: 9 of 11 server(s) asked while running (2 minecraft, 2 bedrock, "
        "5 source); 2 not asked (no known game query: set [query.<server>] protocol, host "
        "and port for those that answer one)"
    )
    assert await players_line(panel, {"query": {"enabled": "false"}}) == (
        "! players online off ([query] enabled = false): no game is asked"
    )
