"""The alerts rules engine: snapshots, power events and a clock in, incident updates out.

Pure: no I/O, no awaits, no Discord. `observe()` folds each snapshot into its server's track in
O(1); `evaluate(now)` turns the tracks touched since, the crash candidates and the open incidents
into `IncidentUpdate`s, which the delivery posts as one message per incident (edited as it
evolves). Rule decisions use the snapshots' own times, so a late evaluate decides the same.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pterodisbot.alerts._model import (
    ALL_SERVERS,
    PANEL_SUBJECT,
    AlertServer,
    AlertSettings,
    AlertState,
    Change,
    Incident,
    IncidentUpdate,
    MessageRef,
    Mute,
    PowerEvent,
    Rule,
)
from pterodisbot.alerts._track import FaultClass, ServerTrack, SnapshotView, Step
from pterodisbot.observed import ServerStatus
from pterodisbot.panel.models import PowerSignal

if TYPE_CHECKING:
    from pterodisbot.clock import Clock

log = logging.getLogger(__name__)

# Power signals that explain an offline state (start explains nothing).
_STOPPING_SIGNALS: Final = frozenset({PowerSignal.STOP, PowerSignal.KILL, PowerSignal.RESTART})
_VERBS: Final = {
    PowerSignal.STOP: "stopped",
    PowerSignal.KILL: "killed",
    PowerSignal.RESTART: "restarted",
}
# A power event may be stamped a little after the offline snapshot it explains: the panel's
# activity log and the bot read different clocks, and a poll's time is taken when it leaves.
_EVENT_SKEW: Final = 5.0
# Polls of a fleet are spread over a cycle: "N polls" of the panel allows this much less.
_CYCLE_JITTER: Final = 1.0
# A peak is re-announced (an edit) only when it grew this many points of the limit.
_PEAK_STEP: Final = 5.0
# A resolved incident's message is kept this long for the delivery's last edit.
_RESOLVED_MESSAGE_KEEP: Final = 3600.0
# Rules whose subject is a server (the others: a node, the panel).
_FLEET_RULES: Final = frozenset({Rule.NODE_DOWN, Rule.PANEL_DOWN})
_OVERLOAD_RULES: Final = (Rule.CPU, Rule.MEMORY, Rule.DISK)

# An open incident's key: a crash and the crash loop it becomes are one incident.
_Key = tuple[Rule, str]


@dataclass(frozen=True, slots=True)
class ActivityRequest:
    """A crash candidate waiting for the panel's activity log: its power events since `since`."""

    server: str
    since: float


@dataclass(slots=True)
class _Candidate:
    """A crash-like step no power event explains yet."""

    since: float
    seen_at: float
    deadline: float
    asked: bool = False
    # The activity log answered and explains nothing (or could not be read): fire now.
    decided: bool = False


@dataclass(slots=True)
class _Fleet:
    """The panel as a whole: its failures run over every server's polls, not one's."""

    # First PANEL_DOWN failure since the last good read, how many since, and who failed.
    fail_since: float | None = None
    fail_count: int = 0
    last_fail: float = 0.0
    failed: dict[str, AlertServer] = dataclasses.field(default_factory=dict)
    # The last good read of any server, and the first one after the panel incident opened.
    last_read: float | None = None
    ok_since: float | None = None


def _key_of(rule: Rule, subject: str) -> _Key:
    return (Rule.CRASH if rule is Rule.CRASH_LOOP else rule, subject)


def _incident_id(rule: Rule, subject: str, started_at: float) -> str:
    return f"{rule}:{subject}:{int(started_at * 1000)}"


class AlertEngine:
    """Turn the monitor's snapshots, power events and a clock into incident updates."""

    def __init__(
        self,
        settings: Callable[[], AlertSettings],
        *,
        clock: Clock,
        expected_cycle: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._expected_cycle = expected_cycle
        self._tracks: dict[str, ServerTrack] = {}
        # Servers with a snapshot since the last evaluate.
        self._touched: set[str] = set()
        self._candidates: dict[str, list[_Candidate]] = {}
        self._powers: dict[str, deque[PowerEvent]] = {}
        self._open: dict[_Key, Incident] = {}
        # A node incident's servers that have not been read again yet (forget drops one).
        self._node_members: dict[str, set[str]] = {}
        self._fleet = _Fleet()
        self._mutes: dict[str, Mute] = {}
        self._messages: dict[str, MessageRef] = {}
        self._resolved_messages: deque[tuple[float, str]] = deque()
        self._outbox: list[IncidentUpdate] = []
        self._dirty = False

    # --- inputs -----------------------------------------------------------------------------

    def restore(self, state: AlertState) -> None:
        """Bring back what a previous run saved: open incidents, messages, mutes, statuses."""
        settings = self._settings()
        for incident in state.incidents:
            if not incident.is_open:
                continue
            self._open[_key_of(incident.rule, incident.subject)] = incident
            if incident.rule is Rule.NODE_DOWN:
                self._node_members[incident.subject] = {s.identifier for s in incident.servers}
        open_ids = {incident.id for incident in self._open.values()}
        self._messages.update((i, ref) for i, ref in state.messages.items() if i in open_ids)
        named = {s.identifier: s for i in self._open.values() for s in i.servers}
        for mute in state.mutes:
            self._mutes[mute.subject] = mute
        since = state.saved_at - settings.power_window
        for identifier, value in state.last_status.items():
            try:
                status = ServerStatus(value)
            except ValueError:
                continue
            if status == ServerStatus.UNKNOWN:
                continue
            # Its name and node come with its first snapshot; an incident knows them meanwhile.
            track = self._track(named.get(identifier) or AlertServer(identifier, identifier, ""))
            track.status, track.restored_since = status, since
            # A restored flap clears only after a quiet period seen by this run.
            if (Rule.FLAPPING, identifier) in self._open:
                track.changes.append(state.saved_at)
        self._dirty = False

    def observe(self, snapshot: SnapshotView, previous: SnapshotView | None) -> None:
        """Fold one snapshot into its server's track (O(1)); never raises."""
        try:
            self._observe(snapshot, previous)
        except Exception:
            # An alert rule must never take the monitor's listener down with it.
            log.exception("alerts: snapshot of server %s not evaluated", snapshot.server.identifier)

    def note_power(self, event: PowerEvent) -> None:
        """Remember a power signal the bot sent: an offline state it explains is no crash."""
        if event.signal not in _STOPPING_SIGNALS:
            return
        settings = self._settings()
        events = self._powers.setdefault(event.server, deque())
        events.append(event)
        while events and events[0].t < event.t - settings.power_window - _EVENT_SKEW:
            events.popleft()
        self._settle_candidates(event.server, (event,), decide=False)

    def forget(self, identifier: str) -> None:
        """Drop a server gone from the panel: its own incidents resolve now."""
        now = self._clock.time()
        for key in [k for k in self._open if k[1] == identifier and k[0] not in _FLEET_RULES]:
            self._resolve(key, now, now)
        for members in self._node_members.values():
            members.discard(identifier)
        self._fleet.failed.pop(identifier, None)
        self._tracks.pop(identifier, None)
        self._candidates.pop(identifier, None)
        self._powers.pop(identifier, None)
        self._touched.discard(identifier)
        self._dirty = True

    def activity_wanted(self) -> tuple[ActivityRequest, ...]:
        """Return the crash candidates to look up in the activity log, each once."""
        wanted: list[ActivityRequest] = []
        for identifier, candidates in self._candidates.items():
            for candidate in candidates:
                if not candidate.asked:
                    candidate.asked = True
                    wanted.append(ActivityRequest(identifier, candidate.since))
        return tuple(wanted)

    def activity_done(self, server: str, events: Sequence[PowerEvent] | None) -> None:
        """Settle a server's asked candidates with its activity log (None: it could not be read)."""
        explaining = tuple(e for e in events or () if e.server == server)
        self._settle_candidates(server, explaining, decide=True)

    # --- mutes and messages -----------------------------------------------------------------

    def mutes(self) -> tuple[Mute, ...]:
        """Return the mutes in force now, soonest to end first."""
        now = self._clock.time()
        return tuple(
            sorted(
                (m for m in self._mutes.values() if m.since <= now < m.until),
                key=lambda m: (m.until, m.subject),
            )
        )

    def mute(self, mute: Mute) -> None:
        """Add a mute (one of the same subject is replaced)."""
        self._mutes[mute.subject] = mute
        self._dirty = True

    def unmute(self, subject: str) -> Mute | None:
        """Remove the mute of `subject`; return it, None if there was none."""
        mute = self._mutes.pop(subject, None)
        if mute is not None:
            self._dirty = True
        return mute

    def set_message(self, incident_id: str, ref: MessageRef) -> None:
        """Remember where the delivery posted an incident's message."""
        self._messages[incident_id] = ref
        self._dirty = True

    def message_of(self, incident_id: str) -> MessageRef | None:
        """Return an incident's message, None if it was never posted (or long resolved)."""
        return self._messages.get(incident_id)

    # --- outputs ----------------------------------------------------------------------------

    def open_incidents(self) -> tuple[Incident, ...]:
        """Return the incidents not cleared yet, oldest first."""
        return tuple(sorted(self._open.values(), key=lambda i: (i.started_at, i.id)))

    def firing(self) -> Mapping[Rule, int]:
        """Return open incidents (muted or not) by rule, every rule present."""
        counts = dict.fromkeys(Rule, 0)
        for incident in self._open.values():
            counts[incident.rule] += 1
        return counts

    @property
    def dirty(self) -> bool:
        """Tell whether the state changed since the last `state()`."""
        return self._dirty

    def state(self) -> AlertState:
        """Return what a restart must not forget, and mark it saved."""
        now = self._clock.time()
        incidents = self.open_incidents()
        ids = {incident.id for incident in incidents}
        self._dirty = False
        return AlertState(
            incidents=incidents,
            mutes=tuple(m for m in self._mutes.values() if m.until > now),
            messages={i: ref for i, ref in self._messages.items() if i in ids},
            last_status={
                ident: str(track.status)
                for ident, track in self._tracks.items()
                if track.status is not None
            },
            saved_at=now,
        )

    def evaluate(self, now: float) -> list[IncidentUpdate]:
        """Decide every rule that may have changed since the last call; return the updates."""
        settings = self._settings()
        self._expire(now)
        self._fire_candidates(settings, now)
        touched, self._touched = self._touched, set()
        for identifier in touched:
            track = self._tracks.get(identifier)
            if track is not None:
                self._check_server(track, settings, now)
        self._check_panel(settings, now)
        self._check_open(settings, now)
        updates, self._outbox = self._outbox, []
        return updates

    # --- snapshots --------------------------------------------------------------------------

    def _track(self, server: AlertServer) -> ServerTrack:
        track = self._tracks.get(server.identifier)
        if track is None:
            track = self._tracks[server.identifier] = ServerTrack(server)
        return track

    def _observe(self, snapshot: SnapshotView, previous: SnapshotView | None) -> None:
        settings = self._settings()
        panel_server = snapshot.server
        identifier = panel_server.identifier
        if not settings.server_enabled(identifier):
            return
        server = AlertServer(identifier, panel_server.name, panel_server.node)
        known = identifier in self._tracks
        track = self._track(server)
        track.server = server
        if not known and previous is not None and previous.status != ServerStatus.UNKNOWN:
            # The engine came after the monitor's first polls: compare with what it saw.
            track.status = ServerStatus(previous.status)
        before, previous_t = track.status, track.last_t
        step = track.observe(snapshot, settings.thresholds(identifier), settings.flap_window)
        if before != track.status:
            self._dirty = True
        since = track.restored_since
        if snapshot.status != ServerStatus.UNKNOWN:
            track.restored_since = None
        self._observe_fleet(track, snapshot, previous_t)
        if step is Step.CRASH_LIKE:
            start = since if since is not None else snapshot.t - settings.power_window
            self._crash_like(track, settings, start, snapshot.t)
        elif step is Step.STOPPED:
            event = self._explanation(identifier, snapshot.t - settings.power_window, snapshot.t)
            self._stopped(track, settings, event, snapshot.t)
        self._touched.add(identifier)

    def _observe_fleet(self, track: ServerTrack, snapshot: SnapshotView, previous_t: float) -> None:
        fleet = self._fleet
        if track.fault_class is FaultClass.PANEL:
            others_read = fleet.last_read is not None and fleet.last_read > previous_t
            track.alone_streak = track.alone_streak + 1 if others_read else 0
            if fleet.fail_since is None:
                fleet.fail_since, fleet.fail_count = snapshot.t, 0
                fleet.failed.clear()
            fleet.fail_count += 1
            fleet.last_fail = snapshot.t
            fleet.failed[track.server.identifier] = track.server
            # A bounce: the panel's recovery starts again at its next good answer.
            fleet.ok_since = None
            return
        track.alone_streak = 0
        # Any answer (node down, refused, a 409 included) is the panel answering.
        fleet.last_read = snapshot.t
        fleet.fail_since, fleet.fail_count = None, 0
        fleet.failed.clear()
        if fleet.ok_since is None and (Rule.PANEL_DOWN, PANEL_SUBJECT) in self._open:
            fleet.ok_since = snapshot.t

    # --- crash or stop ----------------------------------------------------------------------

    def _crash_like(
        self, track: ServerTrack, settings: AlertSettings, since: float, seen_at: float
    ) -> None:
        identifier = track.server.identifier
        if not settings.rules & {Rule.CRASH, Rule.CRASH_LOOP, Rule.STOPPED}:
            return
        event = self._explanation(identifier, since, seen_at)
        if event is not None:
            self._stopped(track, settings, event, seen_at)
            return
        deadline = seen_at + self._expected_cycle()
        self._candidates.setdefault(identifier, []).append(_Candidate(since, seen_at, deadline))

    def _explanation(self, identifier: str, since: float, seen_at: float) -> PowerEvent | None:
        """Return the newest power event of the bot's that explains an offline state, if any."""
        return _explaining(self._powers.get(identifier, ()), since, seen_at)

    def _settle_candidates(
        self, identifier: str, events: Iterable[PowerEvent], *, decide: bool
    ) -> None:
        candidates = self._candidates.get(identifier)
        track = self._tracks.get(identifier)
        if not candidates or track is None:
            return
        events = tuple(events)
        settings = self._settings()
        for candidate in list(candidates):
            if decide and not candidate.asked:
                continue
            event = _explaining(events, candidate.since, candidate.seen_at) or self._explanation(
                identifier, candidate.since, candidate.seen_at
            )
            if event is not None:
                candidates.remove(candidate)
                self._stopped(track, settings, event, candidate.seen_at)
            elif decide:
                candidate.decided = True
        if not candidates:
            del self._candidates[identifier]

    def _stopped(
        self, track: ServerTrack, settings: AlertSettings, event: PowerEvent | None, at: float
    ) -> None:
        """Post the low-key "stopped by …" line: opened and resolved at once."""
        if Rule.STOPPED not in settings.rules:
            return
        if event is not None and event.actor:
            detail = f"{_VERBS[event.signal]} by {event.actor}"
        elif event is not None:
            detail = f"{_VERBS[event.signal]} (not from the bot)"
        else:
            detail = "stopped (not from the bot)"
        now = self._clock.time()
        identifier = track.server.identifier
        muted = self._covered(identifier, now)
        incident = Incident(
            id=_incident_id(Rule.STOPPED, identifier, at),
            rule=Rule.STOPPED,
            subject=identifier,
            servers=(track.server,),
            started_at=at,
            fired_at=now,
            updated_at=now,
            detail=detail,
            resolved_at=at,
            muted=muted,
            announced_at=None if muted else now,
        )
        self._emit(Change.OPENED, incident)

    def _fire_candidates(self, settings: AlertSettings, now: float) -> None:
        for identifier in list(self._candidates):
            candidates = self._candidates[identifier]
            due = [c for c in candidates if c.decided or c.deadline <= now]
            if not due:
                continue
            rest = [c for c in candidates if c not in due]
            if rest:
                self._candidates[identifier] = rest
            else:
                del self._candidates[identifier]
            track = self._tracks.get(identifier)
            for candidate in due:
                if track is not None:
                    self._crash(track, settings, candidate.seen_at, now)

    def _crash(self, track: ServerTrack, settings: AlertSettings, at: float, now: float) -> None:
        identifier = track.server.identifier
        crashes = track.crashes
        crashes.append(at)
        while crashes and crashes[0] < at - settings.crash_loop_window:
            crashes.popleft()
        looping = len(crashes) >= settings.crash_loop_count and Rule.CRASH_LOOP in settings.rules
        key: _Key = (Rule.CRASH, identifier)
        incident = self._open.get(key)
        if incident is not None:
            rule = Rule.CRASH_LOOP if looping else incident.rule
            self._update(
                key, dataclasses.replace(incident, count=incident.count + 1, rule=rule), now
            )
            return
        if looping:
            self._fire(Rule.CRASH_LOOP, identifier, (track.server,), at, now, count=len(crashes))
        elif Rule.CRASH in settings.rules:
            self._fire(Rule.CRASH, identifier, (track.server,), at, now)

    # --- per-server rules -------------------------------------------------------------------

    def _check_server(self, track: ServerTrack, settings: AlertSettings, now: float) -> None:
        self._check_recovery(track, settings, now)
        self._check_flapping(track, settings, now)
        for rule in _OVERLOAD_RULES:
            self._check_overload(rule, track, settings, now)
        self._check_stuck(track, settings, now)
        self._check_unreachable(track, settings, now)
        self._check_not_answering(track, settings, now)
        if (
            track.fault_class is FaultClass.NODE
            and track.fault_streak >= settings.unreachable_polls
        ):
            self._join_node(track, settings, now)

    def _check_recovery(self, track: ServerTrack, settings: AlertSettings, now: float) -> None:
        key: _Key = (Rule.CRASH, track.server.identifier)
        if key not in self._open or track.status != ServerStatus.RUNNING:
            return
        back = track.running_since
        if back is not None and track.seen_t - back >= settings.clear_after:
            self._resolve(key, back, now)

    def _check_flapping(self, track: ServerTrack, settings: AlertSettings, now: float) -> None:
        identifier = track.server.identifier
        key: _Key = (Rule.FLAPPING, identifier)
        incident = self._open.get(key)
        changes = track.changes
        while changes and changes[0] < track.seen_t - settings.flap_window:
            changes.popleft()
        if incident is None:
            looping = self._open.get((Rule.CRASH, identifier))
            if (
                Rule.FLAPPING in settings.rules
                and len(changes) >= settings.flap_changes
                and (looping is None or looping.rule is not Rule.CRASH_LOOP)
            ):
                self._fire(
                    Rule.FLAPPING,
                    identifier,
                    (track.server,),
                    changes[0],
                    now,
                    count=len(changes),
                )
                track.flaps_counted = track.changes_total
            return
        if track.changes_total > track.flaps_counted:
            more = track.changes_total - track.flaps_counted
            track.flaps_counted = track.changes_total
            self._update(key, dataclasses.replace(incident, count=incident.count + more), now)
            return
        quiet_since = changes[-1] if changes else None
        if len(changes) < settings.flap_changes / 2 and (
            quiet_since is None or track.seen_t - quiet_since >= settings.clear_after
        ):
            self._resolve(key, quiet_since if quiet_since is not None else now, now)

    def _check_overload(
        self, rule: Rule, track: ServerTrack, settings: AlertSettings, now: float
    ) -> None:
        identifier = track.server.identifier
        key: _Key = (rule, identifier)
        run = track.overload(rule)
        incident = self._open.get(key)
        if incident is None:
            lasting = 0.0 if rule is Rule.DISK else settings.overload_for
            if (
                rule in settings.rules
                and run.over_since is not None
                and track.seen_t - run.over_since >= lasting
            ):
                self._fire(rule, identifier, (track.server,), run.over_since, now, peak=run.peak)
            return
        if run.peak is not None and run.peak >= (incident.peak or 0.0) + _PEAK_STEP:
            self._update(key, dataclasses.replace(incident, peak=run.peak), now)
        elif run.peak is not None and run.peak > (incident.peak or 0.0):
            # Recorded without an edit: a peak creeping up is not news.
            self._open[key] = dataclasses.replace(incident, peak=run.peak)
        if run.under_since is not None and track.seen_t - run.under_since >= settings.clear_after:
            self._resolve(key, run.under_since, now)

    def _check_stuck(self, track: ServerTrack, settings: AlertSettings, now: float) -> None:
        identifier = track.server.identifier
        key: _Key = (Rule.STUCK, identifier)
        if key not in self._open:
            busy = track.busy_since
            if (
                Rule.STUCK in settings.rules
                and busy is not None
                and track.seen_t - busy >= settings.stuck_after
            ):
                detail = str(track.status)
                self._fire(Rule.STUCK, identifier, (track.server,), busy, now, detail=detail)
            return
        idle = track.idle_since
        if idle is not None and track.seen_t - idle >= settings.clear_after:
            self._resolve(key, idle, now)

    def _check_unreachable(self, track: ServerTrack, settings: AlertSettings, now: float) -> None:
        identifier = track.server.identifier
        key: _Key = (Rule.UNREACHABLE, identifier)
        if key in self._open:
            ok = track.ok_since
            if ok is not None and track.last_t - ok >= settings.clear_after:
                self._resolve(key, ok, now)
            return
        if Rule.UNREACHABLE not in settings.rules:
            return
        if track.fault_streak < settings.unreachable_polls:
            return
        fault = track.fault_class
        # A panel error for this server alone (others read between each of its failed polls)
        # is this server's.
        alone = fault is FaultClass.PANEL and track.alone_streak >= settings.unreachable_polls
        if fault is FaultClass.SERVER or alone:
            since = track.fault_since
            self._fire(
                Rule.UNREACHABLE,
                identifier,
                (track.server,),
                since,
                now,
                detail=track.fault_detail,
            )

    def _check_not_answering(self, track: ServerTrack, settings: AlertSettings, now: float) -> None:
        identifier = track.server.identifier
        key: _Key = (Rule.NOT_ANSWERING, identifier)
        incident = self._open.get(key)
        if incident is None:
            hung = track.hung_since
            if hung is not None and settings.rule_on(Rule.NOT_ANSWERING, identifier):
                detail = track.hung_failure
                self._fire(
                    Rule.NOT_ANSWERING, identifier, (track.server,), hung, now, detail=detail
                )
            return
        heard = track.heard_since
        if heard is None or track.seen_t - heard < settings.clear_after:
            return
        if not track.answering and track.status is not None:
            # Cleared because it no longer runs (stopped, crashed, restarting): say so, not
            # "answering again". The detail is then the status's value, the message reads it.
            self._open[key] = dataclasses.replace(incident, detail=str(track.status))
        self._resolve(key, heard, now)

    # --- nodes and the panel ----------------------------------------------------------------

    def _join_node(self, track: ServerTrack, settings: AlertSettings, now: float) -> None:
        node = track.server.node
        key: _Key = (Rule.NODE_DOWN, node)
        incident = self._open.get(key)
        identifier = track.server.identifier
        if incident is None:
            if Rule.NODE_DOWN in settings.rules:
                self._fire(Rule.NODE_DOWN, node, (track.server,), track.fault_since, now)
                self._node_members[node] = {identifier}
            return
        members = self._node_members.setdefault(node, set())
        members.add(identifier)
        if all(s.identifier != identifier for s in incident.servers):
            servers = (*incident.servers, track.server)
            self._update(
                key, dataclasses.replace(incident, servers=servers, count=len(servers)), now
            )

    def _check_node(self, key: _Key, settings: AlertSettings, now: float) -> None:
        back: float | None = None
        for identifier in self._node_members.get(key[1], ()):
            track = self._tracks.get(identifier)
            if track is None or track.ok_since is None:
                return
            back = max(back or track.ok_since, track.ok_since)
        last_read = self._fleet.last_read
        if back is None:
            # Every server of it left the panel: nothing is left to wait for.
            self._resolve(key, now, now)
        elif last_read is not None and last_read - back >= settings.clear_after:
            self._resolve(key, back, now)

    def _check_panel(self, settings: AlertSettings, now: float) -> None:
        fleet = self._fleet
        key: _Key = (Rule.PANEL_DOWN, PANEL_SUBJECT)
        incident = self._open.get(key)
        if incident is None:
            polls = settings.unreachable_polls
            lasted = (polls - 1) * self._expected_cycle() - _CYCLE_JITTER
            if (
                Rule.PANEL_DOWN in settings.rules
                and fleet.fail_since is not None
                and fleet.fail_count >= polls
                and fleet.last_fail - fleet.fail_since >= lasted
            ):
                servers = tuple(sorted(fleet.failed.values(), key=lambda s: s.identifier))
                self._fire(
                    Rule.PANEL_DOWN,
                    PANEL_SUBJECT,
                    servers,
                    fleet.fail_since,
                    now,
                    count=len(servers),
                )
            return
        known = {s.identifier for s in incident.servers}
        more = [s for ident, s in fleet.failed.items() if ident not in known]
        if more:
            servers = (*incident.servers, *sorted(more, key=lambda s: s.identifier))
            self._update(
                key, dataclasses.replace(incident, servers=servers, count=len(servers)), now
            )
        ok = fleet.ok_since
        last_read = fleet.last_read
        if ok is not None and last_read is not None and last_read - ok >= settings.clear_after:
            self._resolve(key, ok, now)

    # --- open incidents: mutes, repeats, disabled servers -----------------------------------

    def _check_open(self, settings: AlertSettings, now: float) -> None:
        for key, incident in list(self._open.items()):
            if key[0] is Rule.NODE_DOWN:
                self._check_node(key, settings, now)
                if key not in self._open:
                    continue
            elif key[0] is not Rule.PANEL_DOWN and not settings.server_enabled(incident.subject):
                # Its alerts were turned off: nothing will ever clear it.
                self._resolve(key, now, now)
                continue
            covered = self._covered_incident(incident, now)
            if not covered and incident.announced_at is None:
                self._update(key, incident, now, change=Change.OPENED, announce=True)
            elif covered != incident.muted:
                self._open[key] = dataclasses.replace(incident, muted=covered)
                self._dirty = True
            elif (
                not covered
                and incident.announced_at is not None
                and now - incident.announced_at >= settings.repeat_interval
            ):
                self._update(key, incident, now, change=Change.REPEATED, announce=True)

    def _covered(self, identifier: str, now: float) -> bool:
        for subject in (identifier, ALL_SERVERS):
            mute = self._mutes.get(subject)
            if mute is not None and mute.covers(identifier, now):
                return True
        return False

    def _covered_incident(self, incident: Incident, now: float) -> bool:
        if incident.rule in _FLEET_RULES:
            mute = self._mutes.get(ALL_SERVERS)
            return mute is not None and mute.since <= now < mute.until
        return self._covered(incident.subject, now)

    def _expire(self, now: float) -> None:
        for subject in [s for s, m in self._mutes.items() if m.until <= now]:
            del self._mutes[subject]
            self._dirty = True
        keep = self._resolved_messages
        while keep and keep[0][0] <= now - _RESOLVED_MESSAGE_KEEP:
            _, incident_id = keep.popleft()
            self._messages.pop(incident_id, None)

    # --- incidents --------------------------------------------------------------------------

    def _fire(
        self,
        rule: Rule,
        subject: str,
        servers: tuple[AlertServer, ...],
        started_at: float,
        now: float,
        *,
        count: int = 1,
        peak: float | None = None,
        detail: str | None = None,
    ) -> None:
        incident = Incident(
            id=_incident_id(rule, subject, started_at),
            rule=rule,
            subject=subject,
            servers=servers,
            started_at=started_at,
            fired_at=now,
            updated_at=now,
            count=count,
            peak=peak,
            detail=detail,
        )
        muted = self._covered_incident(incident, now)
        incident = dataclasses.replace(incident, muted=muted, announced_at=None if muted else now)
        self._open[_key_of(rule, subject)] = incident
        self._emit(Change.OPENED, incident)

    def _update(
        self,
        key: _Key,
        incident: Incident,
        now: float,
        *,
        change: Change = Change.UPDATED,
        announce: bool = False,
    ) -> None:
        muted = self._covered_incident(incident, now)
        announced_at = now if announce else incident.announced_at
        incident = dataclasses.replace(
            incident, updated_at=now, muted=muted, announced_at=announced_at
        )
        self._open[key] = incident
        self._emit(change, incident)

    def _resolve(self, key: _Key, resolved_at: float, now: float) -> None:
        incident = self._open.pop(key)
        if key[0] is Rule.NODE_DOWN:
            self._node_members.pop(key[1], None)
        if key[0] is Rule.PANEL_DOWN:
            self._fleet.ok_since = None
        muted = self._covered_incident(incident, now)
        resolved = dataclasses.replace(
            incident, resolved_at=max(resolved_at, incident.started_at), updated_at=now, muted=muted
        )
        self._resolved_messages.append((now, incident.id))
        self._emit(Change.RESOLVED, resolved)

    def _emit(self, change: Change, incident: Incident) -> None:
        self._outbox.append(IncidentUpdate(change, incident))
        self._dirty = True


def _explaining(events: Iterable[PowerEvent], since: float, seen_at: float) -> PowerEvent | None:
    """Return the newest stop/kill/restart between `since` and the offline snapshot, if any."""
    found: PowerEvent | None = None
    for event in events:
        if event.signal not in _STOPPING_SIGNALS:
            continue
        if since <= event.t <= seen_at + _EVENT_SKEW and (found is None or event.t > found.t):
            found = event
    return found
