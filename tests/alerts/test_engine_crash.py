"""The engine tells a crash from a stop, counts crash loops and says when a server is back."""

from __future__ import annotations

from pterodisbot.alerts import (
    ActivityRequest,
    AlertServer,
    Change,
    PowerEvent,
    PowerSource,
    Rule,
)
from pterodisbot.monitor import ReadFault, ServerStatus
from pterodisbot.panel.models import PowerSignal
from tests.alerts.engine_rig import CYCLE, SERVER, Rig, server, summary

ID = SERVER.identifier
RUNNING, OFFLINE = ServerStatus.RUNNING, ServerStatus.OFFLINE


def _stop(
    t: float,
    *,
    signal: PowerSignal = PowerSignal.STOP,
    actor: str | None = "owner#0001",
    source: PowerSource = PowerSource.BOT,
) -> PowerEvent:
    return PowerEvent(server=ID, signal=signal, t=t, actor=actor, source=source)


def _crashed(rig: Rig) -> float:
    """Run the server a while, then see it offline; return when it was seen offline."""
    assert rig.run(30) == []
    crashed_at = rig.now
    assert rig.see(OFFLINE) == []
    return crashed_at


def test_every_monitor_status_is_understood() -> None:
    rig = Rig()
    for index, status in enumerate(ServerStatus):
        rig.see(status, srv=server(f"{index:08x}"))
    assert rig.engine.state().last_status == {
        f"{index:08x}": str(status)
        for index, status in enumerate(ServerStatus)
        if status is not ServerStatus.UNKNOWN
    }


def test_a_conflict_never_alerts() -> None:
    rig = Rig()
    assert rig.run(120, fault=ReadFault.CONFLICT) == []
    assert rig.engine.firing() == dict.fromkeys(Rule, 0)


def test_offline_without_stopping_asks_the_activity_log_once_then_fires_a_crash() -> None:
    rig = Rig()
    crashed_at = _crashed(rig)
    assert rig.engine.activity_wanted() == (ActivityRequest(ID, crashed_at - 120.0),)
    assert rig.engine.activity_wanted() == ()
    rig.engine.activity_done(ID, [])
    [update] = rig.evaluate()
    assert update.change is Change.OPENED
    incident = update.incident
    assert (incident.rule, incident.subject, incident.count) == (Rule.CRASH, ID, 1)
    assert incident.servers == (AlertServer(ID, "Survival-1", "node-1"),)
    assert incident.started_at == crashed_at
    assert incident.id == f"crash:{ID}:{int(crashed_at * 1000)}"
    assert (incident.muted, incident.announced_at) == (False, rig.now)
    assert rig.engine.open_incidents() == (incident,)


def test_no_answer_from_the_activity_log_fires_within_one_expected_cycle() -> None:
    rig = Rig()
    crashed_at = _crashed(rig)
    rig.engine.activity_wanted()
    assert rig.engine.evaluate(crashed_at + CYCLE - 0.1) == []
    assert summary(rig.engine.evaluate(crashed_at + CYCLE)) == [("opened", "crash", 1)]


def test_activity_log_unreadable_decides_on_what_is_known() -> None:
    rig = Rig()
    _crashed(rig)
    rig.engine.activity_wanted()
    rig.engine.activity_done(ID, None)
    assert summary(rig.evaluate()) == [("opened", "crash", 1)]


def test_stopping_path_is_a_stop_and_the_stopped_line_is_off_by_default() -> None:
    rig = Rig()
    rig.run(30)
    assert rig.see(ServerStatus.STOPPING) == []
    rig.advance(CYCLE)
    assert rig.see(OFFLINE) == []
    assert rig.engine.activity_wanted() == ()
    assert rig.engine.evaluate(rig.now + 3600) == []


def test_stopping_path_with_the_stopped_rule_posts_a_resolved_low_key_line() -> None:
    rig = Rig(rules=frozenset({Rule.CRASH, Rule.STOPPED}))
    rig.run(30)
    rig.see(ServerStatus.STOPPING)
    rig.advance(CYCLE)
    [update] = rig.see(OFFLINE)
    assert update.change is Change.OPENED
    assert (update.incident.rule, update.incident.detail) == (
        Rule.STOPPED,
        "stopped (not from the bot)",
    )
    assert update.incident.resolved_at == rig.now
    assert rig.engine.open_incidents() == ()


def test_a_stop_sent_by_the_bot_explains_the_offline_state() -> None:
    rig = Rig(rules=frozenset({Rule.CRASH, Rule.STOPPED}))
    rig.run(30)
    rig.engine.note_power(_stop(rig.now - 5))
    [update] = rig.see(OFFLINE)
    assert (update.incident.rule, update.incident.detail) == (Rule.STOPPED, "stopped by owner#0001")
    assert rig.engine.activity_wanted() == ()
    assert rig.engine.evaluate(rig.now + 3600) == []


def test_a_bot_stop_older_than_the_power_window_explains_nothing() -> None:
    rig = Rig()
    rig.run(30)
    rig.engine.note_power(_stop(rig.now - 121))
    rig.see(OFFLINE)
    assert len(rig.engine.activity_wanted()) == 1


def test_a_kill_in_the_activity_log_explains_the_offline_state() -> None:
    rig = Rig(rules=frozenset({Rule.CRASH, Rule.STOPPED}))
    crashed_at = _crashed(rig)
    rig.engine.activity_wanted()
    event = _stop(
        crashed_at - 3, signal=PowerSignal.KILL, actor="panel user admin", source=PowerSource.PANEL
    )
    rig.engine.activity_done(ID, [event])
    [update] = rig.evaluate()
    assert (update.incident.rule, update.incident.detail) == (
        Rule.STOPPED,
        "killed by panel user admin",
    )
    assert rig.engine.evaluate(rig.now + 3600) == []


def test_a_start_in_the_activity_log_explains_nothing() -> None:
    rig = Rig()
    crashed_at = _crashed(rig)
    rig.engine.activity_wanted()
    rig.engine.activity_done(ID, [_stop(crashed_at - 3, signal=PowerSignal.START)])
    assert summary(rig.evaluate()) == [("opened", "crash", 1)]


def test_wings_restarting_it_between_two_polls_is_a_crash() -> None:
    rig = Rig()
    rig.run(30, uptime_ms=3_600_000)
    crashed_at = rig.now
    rig.see(RUNNING, uptime_ms=4_000)
    assert rig.engine.activity_wanted() == (ActivityRequest(ID, crashed_at - 120.0),)
    rig.engine.activity_done(ID, [])
    assert summary(rig.evaluate()) == [("opened", "crash", 1)]


def test_steady_uptime_is_no_crash() -> None:
    rig = Rig()
    assert rig.run(600) == []
    assert rig.engine.activity_wanted() == ()


def test_running_straight_to_starting_is_a_crash() -> None:
    rig = Rig()
    rig.run(30)
    rig.see(ServerStatus.STARTING)
    assert len(rig.engine.activity_wanted()) == 1


def test_unknown_then_offline_is_no_crash() -> None:
    rig = Rig()
    rig.run(30)
    rig.see(fault=ReadFault.PANEL_DOWN)
    rig.advance(CYCLE)
    rig.see(OFFLINE)
    assert rig.engine.activity_wanted() == ()


def test_crash_loop_of_five_is_one_incident_counting() -> None:
    rig = Rig()
    updates = []
    for _ in range(5):
        rig.run(20)
        rig.see(OFFLINE)
        rig.engine.activity_wanted()
        rig.engine.activity_done(ID, [])
        updates += rig.evaluate()
        rig.advance(CYCLE)
    assert summary(updates) == [
        ("opened", "crash", 1),
        ("updated", "crash", 2),
        ("updated", "crash_loop", 3),
        ("updated", "crash_loop", 4),
        ("updated", "crash_loop", 5),
    ]
    assert len({u.incident.id for u in updates}) == 1
    assert [i.rule for i in rig.engine.open_incidents()] == [Rule.CRASH_LOOP]


def test_recovery_resolves_after_the_quiet_period_with_when_it_came_back() -> None:
    rig = Rig()
    crashed_at = _crashed(rig)
    rig.engine.activity_done(ID, None)
    rig.engine.activity_wanted()
    rig.advance(CYCLE)
    [opened] = rig.see(OFFLINE)
    rig.advance(CYCLE)
    back_at = rig.now
    assert rig.run(60) == []
    [resolved] = rig.see(RUNNING)
    assert resolved.change is Change.RESOLVED
    assert resolved.incident.id == opened.incident.id
    assert resolved.incident.resolved_at == back_at
    assert resolved.incident.lasted(rig.now) == back_at - crashed_at
    assert rig.engine.open_incidents() == ()


def test_a_crash_while_crashed_is_no_new_incident() -> None:
    rig = Rig()
    _crashed(rig)
    rig.engine.activity_wanted()
    rig.engine.activity_done(ID, None)
    [opened] = rig.evaluate()
    rig.advance(CYCLE)
    rig.run(30)
    rig.see(OFFLINE)
    rig.engine.activity_wanted()
    rig.engine.activity_done(ID, None)
    [again] = rig.evaluate()
    assert (again.change, again.incident.id, again.incident.count) == (
        Change.UPDATED,
        opened.incident.id,
        2,
    )
