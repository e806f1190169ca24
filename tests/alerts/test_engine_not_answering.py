"""Not answering (panel #1641): running, but its game has not answered its query — one warning."""

from __future__ import annotations

import dataclasses
from typing import Any

from pterodisbot.alerts import (
    ALL_SERVERS,
    DEFAULT_RULES,
    AlertEngine,
    AlertSettings,
    Change,
    IncidentUpdate,
    MentionRoles,
    Mute,
    Rule,
    ServerAlertSettings,
    Severity,
    decode_state,
    encode_state,
)
from pterodisbot.monitor import ReadFault, ServerSnapshot, ServerStatus
from pterodisbot.panel.models import Server
from pterodisbot.query import Answering, Players, QueryFailure, QueryProtocol, QueryTarget
from tests.alerts.engine_rig import CYCLE, SERVER, Rig, server, summary
from tests.snapshots import make_snapshot

ID = SERVER.identifier
RUNNING, OFFLINE = ServerStatus.RUNNING, ServerStatus.OFFLINE
ANSWERING, NO_ANSWER, HUNG = Answering.ANSWERING, Answering.NO_ANSWER, Answering.NOT_ANSWERING
ONLY_THIS_RULE = frozenset({Rule.NOT_ANSWERING})
TARGET = QueryTarget(QueryProtocol.MINECRAFT, "203.0.113.7", 25565)


def players(answering: Answering | None, since: float | None, failure: QueryFailure | None):
    """Build what the query service says of one server (None: not asked)."""
    if answering is None:
        return None
    return Players(target=TARGET, answering=answering, failure=failure, since=since)


def poll(
    rig: Rig,
    answering: Answering | None,
    status: ServerStatus = RUNNING,
    *,
    srv: Server = SERVER,
    since: float | None = None,
    failure: QueryFailure | None = QueryFailure.TIMEOUT,
    fault: ReadFault | None = None,
) -> list[IncidentUpdate]:
    """Feed one snapshot of `srv` now, its game's answer as the query service gives it, evaluate."""
    snapshot: ServerSnapshot = make_snapshot(status, server=srv, t=rig.now)
    if fault is not None:
        snapshot = make_snapshot(ServerStatus.UNKNOWN, server=srv, t=rig.now, with_resources=False)
        snapshot = dataclasses.replace(snapshot, fault=fault, error="panel down")
    if answering is ANSWERING:
        failure = None
    snapshot = dataclasses.replace(snapshot, players=players(answering, since, failure))
    rig.engine.observe(snapshot, None)
    return rig.engine.evaluate(rig.now)


def polls(rig: Rig, seconds: float, answering: Answering | None, **kw: Any) -> list[IncidentUpdate]:
    """Poll once per cycle for `seconds`."""
    updates: list[IncidentUpdate] = []
    end = rig.now + seconds
    while rig.now < end:
        updates += poll(rig, answering, **kw)
        rig.advance(CYCLE)
    return updates


def hang(rig: Rig, **kw: Any) -> tuple[float, list[IncidentUpdate]]:
    """Answer for a minute, then stop answering: 3 min of "no answer", then "not answering"."""
    polls(rig, 60, ANSWERING, **kw)
    last_answer = rig.now - CYCLE
    updates = polls(rig, 180, NO_ANSWER, since=last_answer, **kw)
    updates += poll(rig, HUNG, since=last_answer, **kw)
    return last_answer, updates


def test_the_rule_is_off_by_default() -> None:
    rig = Rig()
    _, updates = hang(rig)
    assert updates + polls(rig, 600, HUNG, since=rig.now) == []
    assert Rule.NOT_ANSWERING not in DEFAULT_RULES


def test_a_running_game_not_answering_fires_one_warning_from_its_last_answer() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    last_answer, updates = hang(rig)
    [opened] = updates
    incident = opened.incident
    assert (opened.change, incident.rule, incident.subject) == (
        Change.OPENED,
        Rule.NOT_ANSWERING,
        ID,
    )
    assert (incident.started_at, incident.fired_at) == (last_answer, rig.now)
    assert incident.detail == "timeout"
    assert incident.severity is Severity.WARNING
    # Still hung: the one incident stays open, no other message.
    rig.advance(CYCLE)
    assert polls(rig, 600, HUNG, since=last_answer) == []
    assert [i.id for i in rig.engine.open_incidents()] == [incident.id]


def test_it_mentions_the_warning_roles() -> None:
    settings = AlertSettings(
        mention_warning=MentionRoles(names=frozenset({"admins"})),
        mention_critical=MentionRoles(names=frozenset({"on call"})),
    )
    rig = Rig(rules=ONLY_THIS_RULE)
    [opened] = hang(rig)[1]
    assert settings.mention_for(opened.incident.severity, ID).names == {"admins"}


def test_no_answer_yet_or_a_game_not_asked_never_fires() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    assert polls(rig, 900, NO_ANSWER, since=rig.now) == []
    assert polls(rig, 900, None) == []


def test_it_clears_once_the_game_answered_for_clear_after() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    [opened] = hang(rig)[1]
    rig.advance(CYCLE)
    back = rig.now
    assert polls(rig, 60, ANSWERING) == []
    [resolved] = poll(rig, ANSWERING)
    assert (resolved.change, resolved.incident.id) == (Change.RESOLVED, opened.incident.id)
    assert resolved.incident.resolved_at == back
    # Answering again: the detail still says why it did not answer.
    assert resolved.incident.detail == "timeout"
    assert rig.engine.open_incidents() == ()


def test_an_answer_shorter_than_clear_after_keeps_the_one_incident_open() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    last_answer, updates = hang(rig)
    rig.advance(CYCLE)
    assert polls(rig, 40, ANSWERING) == []
    assert polls(rig, 60, HUNG, since=rig.now) == []
    assert [i.started_at for i in rig.engine.open_incidents()] == [last_answer]
    assert summary(updates) == [("opened", "not_answering", 1)]


def test_it_clears_when_the_server_stops_running_and_says_in_what_state() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    [opened] = hang(rig)[1]
    rig.advance(CYCLE)
    stopped = rig.now
    assert polls(rig, 60, None, status=OFFLINE) == []
    [resolved] = poll(rig, None, OFFLINE)
    assert (resolved.change, resolved.incident.id) == (Change.RESOLVED, opened.incident.id)
    assert resolved.incident.resolved_at == stopped
    assert resolved.incident.detail == "offline"


def test_an_unreadable_poll_proves_nothing_and_keeps_it_open() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    last_answer, _ = hang(rig)
    rig.advance(CYCLE)
    assert polls(rig, 300, None, fault=ReadFault.REFUSED) == []
    assert [(i.rule, i.started_at) for i in rig.engine.open_incidents()] == [
        (Rule.NOT_ANSWERING, last_answer)
    ]


def test_one_server_turned_on_while_the_rule_is_off_and_one_off_while_on() -> None:
    on, off = server("aaaa0001"), server("aaaa0002")
    overrides = {
        on.identifier: ServerAlertSettings(not_answering=True),
        off.identifier: ServerAlertSettings(not_answering=False),
    }
    rig = Rig(servers=overrides)
    assert summary(hang(rig, srv=on)[1]) == [("opened", "not_answering", 1)]
    assert hang(rig, srv=off)[1] == []

    rig = Rig(rules=DEFAULT_RULES | ONLY_THIS_RULE, servers=overrides)
    assert hang(rig, srv=off)[1] == []
    assert summary(hang(rig, srv=SERVER)[1]) == [("opened", "not_answering", 1)]


def test_a_muted_server_records_it_without_announcing() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    rig.engine.mute(Mute(ALL_SERVERS, since=rig.now, until=rig.now + 3600, reason="x", by="op"))
    [opened] = hang(rig)[1]
    assert (opened.incident.muted, opened.incident.announced_at) == (True, None)


def test_an_open_incident_survives_a_restart_and_clears_afterwards() -> None:
    rig = Rig(rules=ONLY_THIS_RULE)
    last_answer, [opened] = hang(rig)
    saved = decode_state(encode_state(rig.engine.state()), where="test")
    rig.advance(30)
    restarted = AlertEngine(lambda: rig.settings, clock=rig.clock, expected_cycle=lambda: CYCLE)
    restarted.restore(saved)
    rig.engine = restarted
    assert restarted.open_incidents() == (opened.incident,)
    # Still hung after the restart: no second message.
    assert polls(rig, 120, HUNG, since=last_answer) == []
    assert polls(rig, 60, ANSWERING) == []
    [resolved] = poll(rig, ANSWERING)
    assert (resolved.change, resolved.incident.id) == (Change.RESOLVED, opened.incident.id)
