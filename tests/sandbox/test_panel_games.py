"""The simulated fleet's games: players from the load model, and real game queries over sockets."""

from __future__ import annotations

from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel, player_names

NOW = 1_000_000.0


def _panel(*specs: SimServerSpec) -> SimulatedPanel:
    return SimulatedPanel(fleet=list(specs), clock=FakeClock(NOW))


def test_players_follow_the_cpu_load_the_resources_endpoint_answers() -> None:
    panel = _panel(
        SimServerSpec("Busy", identifier="busy0001", cpu_load=0.5, max_players=40),
        SimServerSpec("Full", identifier="full0001", cpu_load=3.0, max_players=40),
        SimServerSpec("Idle", identifier="idle0001", cpu_load=-1.0, max_players=40),
    )
    busy = panel.server("busy0001")
    bound = busy.spec.limits.cpu
    checked = 0
    for at in (NOW + 7.0 * k for k in range(40)):
        cpu = busy.load_at(at, "running", running_for=60.0, ran_before=0.0)["cpu_absolute"]
        if cpu / bound > busy.spec.cpu_load + 0.2:
            continue  # a CPU spike: work, not people
        assert busy.players_at(at) == round(40 * cpu / bound), at
        checked += 1
    assert checked >= 30
    assert panel.server("full0001").players_at(NOW) == 40
    assert panel.server("idle0001").players_at(NOW) == 0


def test_players_are_zero_unless_running() -> None:
    panel = _panel(
        SimServerSpec("Up", identifier="upup0001", cpu_load=0.5, max_players=20),
        SimServerSpec("Down", identifier="down0001", cpu_load=0.5, max_players=20, state="offline"),
    )
    up, down = panel.server("upup0001"), panel.server("down0001")
    assert up.players_at(NOW) > 0
    assert down.players_at(NOW) == 0
    assert down.players_at(NOW, "running") > 0  # what a past running stretch had (history)
    assert up.players_at(NOW, "starting") == 0
    assert up.players_at(NOW, "stopping") == 0
    up.power("kill")
    assert up.players_at(NOW) == 0


def test_player_names_are_distinct_and_stable() -> None:
    assert player_names(3) == ("Steve", "Alex", "Notch")
    many = player_names(40)
    assert len(set(many)) == 40
    assert many[39] == "player40"
    assert player_names(40) == many
