"""Noise control and memory: repeats, mutes, a restart that neither re-posts nor forgets."""

from __future__ import annotations

from pterodisbot.alerts import (
    ALL_SERVERS,
    AlertEngine,
    AlertState,
    Change,
    MessageRef,
    Mute,
    Rule,
)
from pterodisbot.monitor import ReadFault, ServerStatus
from tests.alerts.engine_rig import CYCLE, SERVER, Rig, server, summary

ID = SERVER.identifier
RUNNING, OFFLINE = ServerStatus.RUNNING, ServerStatus.OFFLINE
REF = MessageRef(channel_id=1, message_id=99)


def _crash(rig: Rig) -> list:
    """Run the server, see it offline, let the activity log explain nothing."""
    rig.run(30)
    rig.see(OFFLINE)
    rig.engine.activity_wanted()
    rig.engine.activity_done(ID, [])
    return rig.evaluate()


def _mute(rig: Rig, subject: str = ID, seconds: float = 3600.0) -> Mute:
    mute = Mute(subject=subject, since=rig.now, until=rig.now + seconds, reason="maps", by="op")
    rig.engine.mute(mute)
    return mute


def test_an_open_incident_is_repeated_every_repeat_interval() -> None:
    rig = Rig()
    [opened] = _crash(rig)
    fired = opened.incident.fired_at
    assert rig.engine.evaluate(fired + 14_399) == []
    [repeated] = rig.engine.evaluate(fired + 14_400)
    assert (repeated.change, repeated.incident.id) == (Change.REPEATED, opened.incident.id)
    assert repeated.incident.announced_at == fired + 14_400
    assert rig.engine.evaluate(fired + 28_799) == []
    assert summary(rig.engine.evaluate(fired + 28_800)) == [("repeated", "crash", 1)]


def test_a_muted_server_is_recorded_not_announced_and_unmute_resumes_posting() -> None:
    rig = Rig()
    mute = _mute(rig)
    assert rig.engine.mutes() == (mute,)
    [opened] = _crash(rig)
    assert (opened.change, opened.incident.muted, opened.incident.announced_at) == (
        Change.OPENED,
        True,
        None,
    )
    assert rig.engine.firing()[Rule.CRASH] == 1
    assert rig.engine.evaluate(rig.now + 3000) == []
    rig.advance(CYCLE)
    assert rig.engine.unmute(ID) == mute
    assert rig.engine.unmute(ID) is None
    [posted] = rig.evaluate()
    assert (posted.change, posted.incident.id, posted.incident.muted) == (
        Change.OPENED,
        opened.incident.id,
        False,
    )
    assert posted.incident.announced_at == rig.now
    assert rig.evaluate() == []


def test_a_muted_incident_resolves_muted() -> None:
    rig = Rig()
    _mute(rig)
    _crash(rig)
    rig.advance(CYCLE)
    assert rig.run(60) == []
    [resolved] = rig.see()
    assert (resolved.change, resolved.incident.muted) == (Change.RESOLVED, True)


def test_an_expired_mute_drops_out_and_its_incidents_are_posted() -> None:
    rig = Rig()
    _mute(rig, seconds=100)
    [opened] = _crash(rig)
    assert opened.incident.muted
    rig.advance(100)
    assert rig.engine.mutes() == ()
    assert summary(rig.evaluate()) == [("opened", "crash", 1)]
    assert rig.engine.state().mutes == ()


def test_a_mute_of_every_server_covers_a_node_down() -> None:
    rig = Rig()
    _mute(rig, ALL_SERVERS)
    updates = rig.run(30, srv=server("0000000c", node="node-3"), fault=ReadFault.NODE_DOWN)
    assert [(u.incident.rule, u.incident.muted) for u in updates] == [(Rule.NODE_DOWN, True)]


def test_a_mute_of_another_server_covers_nothing_here() -> None:
    rig = Rig()
    _mute(rig, "99999999")
    [opened] = _crash(rig)
    assert not opened.incident.muted


def test_restored_open_incident_is_not_opened_again_and_its_recovery_resolves_it() -> None:
    rig = Rig()
    [opened] = _crash(rig)
    rig.engine.set_message(opened.incident.id, REF)
    assert rig.engine.dirty
    state = rig.engine.state()
    assert not rig.engine.dirty
    assert state.last_status == {ID: "offline"}
    assert state.messages == {opened.incident.id: REF}

    rig.advance(300)
    restarted = AlertEngine(lambda: rig.settings, clock=rig.clock, expected_cycle=lambda: CYCLE)
    restarted.restore(state)
    rig.engine = restarted
    assert restarted.open_incidents() == state.incidents
    assert restarted.message_of(opened.incident.id) == REF
    back_at = rig.now
    assert rig.run(60) == []
    [resolved] = rig.see()
    assert (resolved.change, resolved.incident.id) == (Change.RESOLVED, opened.incident.id)
    assert resolved.incident.resolved_at == back_at
    assert restarted.message_of(opened.incident.id) == REF
    assert restarted.activity_wanted() == ()


def test_a_server_that_went_down_while_the_bot_was_away_is_a_crash_candidate() -> None:
    rig = Rig()
    rig.run(30)
    state = rig.engine.state()
    rig.advance(600)
    restarted = AlertEngine(lambda: rig.settings, clock=rig.clock, expected_cycle=lambda: CYCLE)
    restarted.restore(state)
    rig.engine = restarted
    rig.see(OFFLINE)
    [request] = restarted.activity_wanted()
    assert (request.server, request.since) == (ID, state.saved_at - 120.0)
    restarted.activity_done(ID, None)
    assert summary(rig.evaluate()) == [("opened", "crash", 1)]


def test_state_round_trip_keeps_incidents_mutes_and_messages() -> None:
    rig = Rig()
    mute = _mute(rig, "0000000e")
    [opened] = _crash(rig)
    rig.advance(CYCLE)
    rig.run(310, srv=server("0000000e"), cpu_percent=199.0)
    rig.engine.set_message(opened.incident.id, REF)
    state = rig.engine.state()
    assert [i.rule for i in state.incidents] == [Rule.CRASH, Rule.CPU]
    assert state.messages == {opened.incident.id: REF}
    assert state.mutes == (mute,)
    again = AlertEngine(lambda: rig.settings, clock=rig.clock, expected_cycle=lambda: CYCLE)
    again.restore(state)
    assert again.open_incidents() == rig.engine.open_incidents()
    assert again.mutes() == (mute,)
    assert again.state() == AlertState(
        incidents=state.incidents,
        mutes=state.mutes,
        messages=state.messages,
        last_status=state.last_status,
        saved_at=rig.now,
    )


def test_firing_counts_every_rule() -> None:
    rig = Rig()
    assert rig.engine.firing() == dict.fromkeys(Rule, 0)
    _crash(rig)
    assert rig.engine.firing() == {**dict.fromkeys(Rule, 0), Rule.CRASH: 1}


def test_a_server_gone_from_the_panel_resolves_its_incidents() -> None:
    rig = Rig()
    [opened] = _crash(rig)
    rig.engine.forget(ID)
    [resolved] = rig.evaluate()
    assert (resolved.change, resolved.incident.id, resolved.incident.resolved_at) == (
        Change.RESOLVED,
        opened.incident.id,
        rig.now,
    )
    assert rig.engine.open_incidents() == ()
    assert ID not in rig.engine.state().last_status


def test_settings_are_read_at_every_evaluate() -> None:
    rig = Rig()
    [opened] = _crash(rig)
    rig.settings = rig.settings.__class__(channel_id=1, repeat_interval=60.0)
    assert summary(rig.engine.evaluate(opened.incident.fired_at + 60)) == [("repeated", "crash", 1)]
