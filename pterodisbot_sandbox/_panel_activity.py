"""The simulated panel's activity log: entries per server and their client API rendering.

Follows pterodactyl/panel 1.11: `ActivityLogController` (permission `activity.read`, Spatie's
`filter[event]` as a partial match, `sort=timestamp|-timestamp`, `per_page` default 25, at most
100) and `ActivityLogTransformer` (`id` = sha1 of the row id, `is_api` when an API key did it,
`ip` only for the key's own user, `properties` an object, `timestamp` an ATOM string with whole
seconds, `actor` only with `include=actor`). The panel logs `server:power.<signal>` after Wings
accepted a power signal; a crash logs nothing (the panel has no crash event).
"""

from __future__ import annotations

import hashlib
import uuid as uuid_module
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# The key's user: `GET /api/client/account` answers with this user too.
API_USER = "simulated"
API_USER_EMAIL = "operator@example.com"
# Per server; a long demo keeps the newest ones, like a panel pruning old activity.
ACTIVITY_KEPT = 1000
ACTIVITY_PER_PAGE_DEFAULT = 25
ACTIVITY_PER_PAGE_MAX = 100
# Where another panel user's browser is; the transformer hides it from the key's user.
_OTHER_USER_IP = "203.0.113.7"


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    """One row of the panel's activity log about one server."""

    id: int
    event: str
    # Wall-clock seconds (the panel's clock), whole seconds as the panel's column keeps them.
    t: float
    # A panel user's name; None for the system (no user actor: `null_resource`).
    actor: str | None
    is_api: bool
    ip: str
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    description: str | None = None
    batch: str | None = None

    @property
    def timestamp(self) -> str:
        """Return the timestamp as the panel prints it (`toAtomString`)."""
        return datetime.fromtimestamp(self.t, UTC).isoformat(timespec="seconds")

    def to_api(self, *, include_actor: bool) -> dict[str, Any]:
        """Return the item as `GET .../activity` renders it for the key's user."""
        attributes: dict[str, Any] = {
            "id": hashlib.sha1(str(self.id).encode()).hexdigest(),
            "batch": self.batch,
            "event": self.event,
            "is_api": self.is_api,
            "ip": self.ip if self.actor == API_USER else None,
            "description": self.description,
            "properties": dict(self.properties),
            "has_additional_metadata": bool(set(self.properties) - {"ip", "useragent"}),
            "timestamp": self.timestamp,
        }
        if include_actor:
            attributes["relationships"] = {"actor": _actor(self.actor)}
        return {"object": "activity_log", "attributes": attributes}

    def sim_view(self) -> dict[str, Any]:
        """Return the entry for the `/_sim/` control API (unhidden, with epoch seconds)."""
        return {
            "event": self.event,
            "t": self.t,
            "timestamp": self.timestamp,
            "actor": self.actor,
            "is_api": self.is_api,
            "ip": self.ip,
            "properties": dict(self.properties),
        }


def _actor(name: str | None) -> dict[str, Any]:
    if name is None:
        return {"object": "null_resource", "attributes": None}
    email = API_USER_EMAIL if name == API_USER else f"{name}@example.com"
    return {
        "object": "user",
        "attributes": {
            "uuid": str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"sim-user:{name}")),
            "username": name,
            "email": email,
            "image": "https://gravatar.com/avatar/" + hashlib.md5(email.encode()).hexdigest(),
            "2fa_enabled": False,
            "created_at": "2024-01-01T00:00:00+00:00",
        },
    }


class ActivityLog:
    """Every server's activity, newest last, with the panel's own row ids."""

    def __init__(self) -> None:
        self._entries: dict[str, deque[ActivityEntry]] = {}
        self._next_id = 1

    def record(
        self,
        identifier: str,
        event: str,
        *,
        t: float,
        actor: str | None,
        is_api: bool,
        ip: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> ActivityEntry:
        """Append an entry about server `identifier` at wall time `t` and return it."""
        entry = ActivityEntry(
            id=self._next_id,
            event=event,
            t=float(int(t)),
            actor=actor,
            is_api=is_api,
            ip=ip if ip is not None else ("127.0.0.1" if actor == API_USER else _OTHER_USER_IP),
            properties=MappingProxyType(dict(properties or {})),
        )
        self._next_id += 1
        self._entries.setdefault(identifier, deque(maxlen=ACTIVITY_KEPT)).append(entry)
        return entry

    def entries(self, identifier: str) -> list[ActivityEntry]:
        """Return a server's entries, oldest first."""
        return list(self._entries.get(identifier, ()))

    def query(
        self, identifier: str, *, event: str | None, newest_first: bool
    ) -> list[ActivityEntry]:
        """Return a server's entries whose event contains `event` (case-insensitive), sorted."""
        found: Iterable[ActivityEntry] = self._entries.get(identifier, ())
        if event:
            # SQL LIKE %event% under MySQL's case-insensitive collation.
            needle = event.casefold()
            found = (e for e in found if needle in e.event.casefold())
        # Sorted by timestamp, then by row id, as the database returns equal timestamps.
        return sorted(found, key=lambda e: (e.t, e.id), reverse=newest_first)
