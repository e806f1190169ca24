"""What the query tests share: a simulated panel whose games answer over real sockets."""

from __future__ import annotations

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.panel import SimulatedPanel
from tests.fixtures.panel import GAMES, MakeSimPanel


@pytest.fixture
async def games(make_sim_panel: MakeSimPanel) -> SimulatedPanel:
    """Start a panel whose game servers answer queries; its clock moves only when told."""
    return await make_sim_panel(fleet=list(GAMES), clock=FakeClock(), games=True)
