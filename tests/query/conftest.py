"""What the query tests share: a simulated panel whose games answer over real sockets."""

from __future__ import annotations

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel
from tests.fixtures.panel import MakeSimPanel

# The games of the fleet, each running unless said: real eggs' names, images and ports.
GAMES = (
    SimServerSpec("Paper SMP", identifier="mcjava01", game="minecraft", cpu_load=0.5),
    SimServerSpec("Bedrock Friends", identifier="bedrock1", game="bedrock", cpu_load=0.5),
    SimServerSpec("Rust Monthly", identifier="rust0001", game="rust", cpu_load=0.5),
    SimServerSpec("Valheim Vikings", identifier="valheim1", game="valheim", cpu_load=0.5),
    SimServerSpec("Palworld", identifier="palworld", game="palworld", cpu_load=0.5),
    SimServerSpec("Garry's Mod TTT", identifier="gmod0001", game="gmod", cpu_load=0.5),
    SimServerSpec("Factorio", identifier="factorio", game="factorio"),
    SimServerSpec("Paper Off", identifier="mcoff001", game="minecraft", state="offline"),
)


@pytest.fixture
async def games(make_sim_panel: MakeSimPanel) -> SimulatedPanel:
    """Start a panel whose game servers answer queries; its clock moves only when told."""
    return await make_sim_panel(fleet=list(GAMES), clock=FakeClock(), games=True)
