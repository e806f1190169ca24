"""The alerts' persisted state as JSON text: `encode_state()` and `decode_state()` (pure).

`{"version": 1, "saved_at": <s>, "incidents": [...], "mutes": [...], "messages": {incident id:
{"channel_id", "message_id"}}, "last_status": {server: status}}`. Discord ids are written as
strings (they pass 2**53, where other JSON readers round them); both forms are read. Times are
floats written with `repr`, so every value reads back exactly.

Decoding keeps what it can: an entry that cannot be read is dropped, one warning line each (a
lost mute posts alerts early; a lost incident may be posted again), and the rest is kept. A text
that is not JSON, not a state, or written by a newer Pterodisbot raises `AlertStateError`.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from pterodisbot.alerts._model import (
    AlertServer,
    AlertState,
    Incident,
    MessageRef,
    Mute,
    Rule,
)

log = logging.getLogger(__name__)

STATE_VERSION: Final = 1

T = TypeVar("T")


class AlertStateFailure(enum.StrEnum):
    """Why the alerts' state cannot be read or kept."""

    # The content: not JSON, not a state, from a newer version.
    NOT_JSON = "not_json"
    NOT_A_STATE = "not_a_state"
    NEWER_VERSION = "newer_version"
    # The file: where it should be is a folder, a part of its path is a file, no permission,
    # another read error, cannot be moved aside, cannot be written.
    IS_DIRECTORY = "is_directory"
    PARENT_NOT_DIRECTORY = "parent_not_directory"
    PERMISSION_DENIED = "permission_denied"
    UNREADABLE = "unreadable"
    CANNOT_SET_ASIDE = "cannot_set_aside"
    WRITE_FAILED = "write_failed"


class AlertStateError(Exception):
    """The alerts' state cannot be read or kept; the text names where and the fix (one line)."""

    def __init__(self, reason: AlertStateFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _BadEntry(ValueError):
    """One entry cannot be read; the text says which field and why."""


def encode_state(state: AlertState) -> str:
    """Return the state as JSON text (`{"version": 1, ...}`), keys sorted, one trailing newline."""
    document = {
        "version": STATE_VERSION,
        "saved_at": state.saved_at,
        "incidents": [_incident_json(i) for i in state.incidents],
        "mutes": [_mute_json(m) for m in state.mutes],
        "messages": {
            incident_id: {"channel_id": str(ref.channel_id), "message_id": str(ref.message_id)}
            for incident_id, ref in state.messages.items()
        },
        "last_status": dict(state.last_status),
    }
    return json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n"


def decode_state(text: str, *, where: str = "the alerts' state") -> AlertState:
    """Read a state from `encode_state()`'s text; drop (and log) entries that cannot be read.

    `where` names the file or store in the log lines and errors. Raises `AlertStateError`
    (NOT_JSON, NOT_A_STATE, NEWER_VERSION) when nothing of it can be trusted.
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise AlertStateError(
            AlertStateFailure.NOT_JSON,
            f"{where} is not JSON ({exc}): it was damaged; the bot sets it aside and starts "
            "with no open incidents or mutes",
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("version"), int):
        raise AlertStateError(
            AlertStateFailure.NOT_A_STATE,
            f"{where} is not an alerts state (no version number): point the bot at its own "
            "file, or remove this one",
        )
    version = document["version"]
    if version > STATE_VERSION or version < 1:
        raise AlertStateError(
            AlertStateFailure.NEWER_VERSION,
            f"{where} has version {version}, which this Pterodisbot does not know (it reads "
            f"{STATE_VERSION}): upgrade the bot, or remove the state to start afresh",
        )
    dropped: list[str] = []
    incidents = _entries(document, "incidents", list, _incident, dropped)
    mutes = _entries(document, "mutes", list, _mute, dropped)
    messages = dict(_entries(document, "messages", dict, _message, dropped))
    last_status = dict(_entries(document, "last_status", dict, _status, dropped))
    try:
        saved_at = _number(document, "saved_at", default=0.0)
    except _BadEntry as exc:
        dropped.append(f"saved_at: {exc}")
        saved_at = 0.0
    for problem in dropped:
        log.warning("%s: %s; left out, the rest is kept", where, problem)
    return AlertState(
        incidents=tuple(incidents),
        mutes=tuple(mutes),
        messages=messages,
        last_status=last_status,
        saved_at=saved_at,
    )


# --- encoding ----------------------------------------------------------------------------------


def _incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "rule": incident.rule.value,
        "subject": incident.subject,
        "servers": [
            {"identifier": s.identifier, "name": s.name, "node": s.node} for s in incident.servers
        ],
        "started_at": incident.started_at,
        "fired_at": incident.fired_at,
        "updated_at": incident.updated_at,
        "count": incident.count,
        "peak": incident.peak,
        "detail": incident.detail,
        "resolved_at": incident.resolved_at,
        "muted": incident.muted,
        "announced_at": incident.announced_at,
    }


def _mute_json(mute: Mute) -> dict[str, Any]:
    return {
        "subject": mute.subject,
        "since": mute.since,
        "until": mute.until,
        "reason": mute.reason,
        "by": mute.by,
        "by_id": None if mute.by_id is None else str(mute.by_id),
    }


# --- decoding ----------------------------------------------------------------------------------


def _entries(
    document: Mapping[str, Any],
    key: str,
    kind: type[list[Any]] | type[dict[str, Any]],
    read: Callable[[Any, str], T],
    dropped: list[str],
) -> list[T]:
    """Read each entry of `document[key]` with `read(entry, where)`; note the ones dropped."""
    container = document.get(key, kind())
    if not isinstance(container, kind):
        dropped.append(f"{key} should be {'a list' if kind is list else 'an object'}")
        return []
    if isinstance(container, dict):
        pairs = [(f"{key}[{name!r}]", (name, value)) for name, value in container.items()]
    else:
        pairs = [(f"{key}[{n}]", entry) for n, entry in enumerate(container)]
    read_ok: list[T] = []
    for where, entry in pairs:
        try:
            read_ok.append(read(entry, where))
        except _BadEntry as exc:
            dropped.append(f"{where}: {exc}")
    return read_ok


def _incident(entry: Any, where: str) -> Incident:
    obj = _object(entry)
    rule_name = _text(obj, "rule")
    try:
        rule = Rule(rule_name)
    except ValueError:
        raise _BadEntry(f"rule {rule_name!r} is not one this version knows") from None
    servers_raw = obj.get("servers")
    if not isinstance(servers_raw, list):
        raise _BadEntry("servers should be a list")
    servers = tuple(_server(s, n) for n, s in enumerate(servers_raw))
    count = obj.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise _BadEntry("count should be a whole number of 1 or more")
    return Incident(
        id=_text(obj, "id"),
        rule=rule,
        subject=_text(obj, "subject"),
        servers=servers,
        started_at=_number(obj, "started_at"),
        fired_at=_number(obj, "fired_at"),
        updated_at=_number(obj, "updated_at"),
        count=count,
        peak=_optional_number(obj, "peak"),
        detail=_optional_text(obj, "detail"),
        resolved_at=_optional_number(obj, "resolved_at"),
        muted=_flag(obj, "muted"),
        announced_at=_optional_number(obj, "announced_at"),
    )


def _server(entry: Any, index: int) -> AlertServer:
    if not isinstance(entry, dict):
        raise _BadEntry(f"servers[{index}] should be an object")
    try:
        return AlertServer(
            identifier=_text(entry, "identifier"),
            name=_text(entry, "name"),
            node=_text(entry, "node"),
        )
    except _BadEntry as exc:
        raise _BadEntry(f"servers[{index}].{exc}") from None


def _mute(entry: Any, where: str) -> Mute:
    obj = _object(entry)
    since, until = _number(obj, "since"), _number(obj, "until")
    if until < since:
        raise _BadEntry("until is before since")
    return Mute(
        subject=_text(obj, "subject"),
        since=since,
        until=until,
        reason=_optional_text(obj, "reason") or "",
        by=_optional_text(obj, "by") or "",
        by_id=_optional_snowflake(obj, "by_id"),
    )


def _message(entry: Any, where: str) -> tuple[str, MessageRef]:
    incident_id, value = entry
    obj = _object(value)
    channel_id = _optional_snowflake(obj, "channel_id")
    message_id = _optional_snowflake(obj, "message_id")
    if channel_id is None or message_id is None:
        raise _BadEntry("channel_id and message_id are both needed")
    return str(incident_id), MessageRef(channel_id=channel_id, message_id=message_id)


def _status(entry: Any, where: str) -> tuple[str, str]:
    server, status = entry
    if not isinstance(status, str):
        raise _BadEntry("should be a status name (a string)")
    return str(server), status


def _object(entry: Any) -> Mapping[str, Any]:
    if not isinstance(entry, dict):
        raise _BadEntry("should be an object")
    return entry


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _BadEntry(f"{key} should be a non-empty string")
    return value


def _optional_text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _BadEntry(f"{key} should be a string or null")
    return value


def _number(obj: Mapping[str, Any], key: str, *, default: float | None = None) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _BadEntry(f"{key} should be a number of seconds")
    return float(value)


def _optional_number(obj: Mapping[str, Any], key: str) -> float | None:
    if obj.get(key) is None:
        return None
    return _number(obj, key)


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise _BadEntry(f"{key} should be true or false")
    return value


def _optional_snowflake(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _BadEntry(f"{key} should be a Discord id")
