"""Remember where the status embeds live (`embed/embed_locations.json`), written atomically.

The file is what lets a restarted bot keep editing the same messages, so it is never emptied in
place: a file that cannot be read is moved aside for the operator, an entry that cannot be read is
set aside on its own (a copy of the file is kept) while the good ones are kept, and every write goes
to a temporary file that replaces the old one only once it is complete and on disk (a temporary
file left by a crash is removed at the next load). A path that is a directory or cannot be read
stops the bot with one line naming the path and the fix: starting empty would lose every status
message the file knows. The file is created 0600 and its folders 0700 (the umask does not matter).

The file also holds *pending posts*: a status message about to be posted is recorded (and saved)
before it is sent, so that after a crash between the post and the save the bot knows which channel
to look in for a message it does not know (see `pterodisbot.bot.reconcile`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pterodisbot.clock import SystemClock
from pterodisbot.private_files import (
    aside_name,
    remove_leftovers,
    write_atomically,
)

if TYPE_CHECKING:
    from pterodisbot.clock import Clock

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Modes of what the bot creates (chmod'ed explicitly: the umask does not apply to those).


class LocationsFailure(Enum):
    """Why the locations file cannot be used: each needs the operator's hand."""

    IS_DIRECTORY = "is_directory"
    PARENT_NOT_DIRECTORY = "parent_not_directory"
    PERMISSION_DENIED = "permission_denied"
    UNREADABLE = "unreadable"
    CANNOT_SET_ASIDE = "cannot_set_aside"


class EmbedLocationsError(Exception):
    """The locations file could not be read or set aside; the message says which path and why.

    One line, written for the operator: the path, what is wrong, and what to do.
    """

    def __init__(self, reason: LocationsFailure, path: Path, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path


@dataclass(frozen=True, slots=True)
class SaveFailure:
    """Saves have been failing since `since` (clock time): how many in a row, and the last error."""

    since: float
    attempts: int
    error: str


class _InvalidFileError(ValueError):
    """The file's content is not a locations file; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class EmbedLocation:
    """A status embed: the message that shows it and the server it shows.

    `guild_id` is 0 for entries migrated from the old file format, which did not record it.
    """

    message_id: int
    guild_id: int
    channel_id: int
    server_id: str


@dataclass(frozen=True, slots=True)
class PendingPost:
    """A status message about to be posted: saved before the POST, dropped once it is recorded.

    `started` is the Unix time the post began; a crash leaves it in the file, and the next start
    looks in `channel_id` for the message it may have left there.
    """

    guild_id: int
    channel_id: int
    server_id: str
    started: float


@dataclass(frozen=True, slots=True)
class _Decoded:
    locations: list[EmbedLocation]
    pending: list[PendingPost] = field(default_factory=list)
    # One line per entry that could not be read (and is left out).
    rejected: list[str] = field(default_factory=list)


class EmbedLocations:
    """The set of status embeds the bot keeps current, persisted as versioned JSON."""

    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        self._path = Path(path)
        self._clock: Clock = clock or SystemClock()
        self._by_message: dict[int, EmbedLocation] = {}
        self._by_place: dict[tuple[int, str], int] = {}
        self._pending: list[PendingPost] = []
        self._lock = asyncio.Lock()
        self._version = 0
        self._saved_version = 0
        self._writes = 0
        self._save_failure: SaveFailure | None = None
        self._failed_saves = 0

    @property
    def path(self) -> Path:
        """Return the path of the JSON file."""
        return self._path

    @property
    def writes(self) -> int:
        """Return how many times this store has written its file (saves that had news)."""
        return self._writes

    @property
    def save_failure(self) -> SaveFailure | None:
        """Return why saves are failing (since when, how often), or None while they succeed."""
        return self._save_failure

    @property
    def failed_saves(self) -> int:
        """Return how many saves have failed since the store was made (a counter for metrics)."""
        return self._failed_saves

    @property
    def dirty(self) -> bool:
        """Tell whether there are changes that `save()` has not written yet."""
        return self._version != self._saved_version

    async def load(self) -> None:
        """Replace the content by the file's; a missing file is empty, a broken one is set aside.

        Entries that cannot be read are logged one by one and left out, the others kept; a copy
        of the file is set aside first and the next save rewrites it without them. Raises
        `EmbedLocationsError` when the path is a directory or cannot be read, or the file can be
        neither read nor set aside: starting empty then would overwrite it on the next save.
        """
        async with self._lock:
            decoded = await asyncio.to_thread(self._read_or_set_aside)
            self._by_message.clear()
            self._by_place.clear()
            for location in decoded.locations:
                self._put(location)
            self._pending = list(decoded.pending)
            self._version += 1
            self._saved_version = self._version
            if decoded.rejected:
                # Not saved yet: the next save writes the good entries only (the copy is aside).
                self._version += 1

    def add(self, location: EmbedLocation) -> EmbedLocation | None:
        """Record an embed; return the one it replaces (same server and channel), if any."""
        replaced: EmbedLocation | None = None
        place = (location.channel_id, location.server_id)
        previous_id = self._by_place.get(place)
        if previous_id is not None and previous_id != location.message_id:
            replaced = self._pop(previous_id)
        # The same message re-recorded (e.g. for another server) must not leave a stale index entry.
        self._pop(location.message_id)
        self._put(location)
        self._version += 1
        return replaced

    def remove(self, message_id: int) -> EmbedLocation | None:
        """Forget the embed shown by `message_id`; return it, or None if it was not known."""
        removed = self._pop(message_id)
        if removed is not None:
            self._version += 1
        return removed

    def begin_post(self, pending: PendingPost) -> None:
        """Record that a status message is about to be posted (save before sending it)."""
        self._pending.append(pending)
        self._version += 1

    def end_post(self, pending: PendingPost) -> None:
        """Drop a pending post: its message is recorded with `add()`, or it never left."""
        if pending in self._pending:
            self._pending.remove(pending)
            self._version += 1

    def pending(self) -> list[PendingPost]:
        """Return the posts begun and not ended, oldest first (after a crash: from the file)."""
        return sorted(self._pending, key=lambda p: p.started)

    def get(self, message_id: int) -> EmbedLocation | None:
        """Return the embed shown by `message_id`, if known."""
        return self._by_message.get(message_id)

    def find(self, channel_id: int, server_id: str) -> EmbedLocation | None:
        """Return the embed of `server_id` in `channel_id`, if there is one."""
        message_id = self._by_place.get((channel_id, server_id))
        return None if message_id is None else self._by_message[message_id]

    def for_guild(self, guild_id: int) -> list[EmbedLocation]:
        """Return the embeds in one guild, oldest message first."""
        return [loc for loc in self.all() if loc.guild_id == guild_id]

    def for_server(self, server_id: str) -> list[EmbedLocation]:
        """Return the embeds of one server across channels and guilds, oldest message first."""
        return [loc for loc in self.all() if loc.server_id == server_id]

    def all(self) -> list[EmbedLocation]:
        """Return every embed, oldest message first."""
        return sorted(self._by_message.values(), key=lambda loc: loc.message_id)

    def __len__(self) -> int:
        """Return the number of embeds."""
        return len(self._by_message)

    def __contains__(self, message_id: object) -> bool:
        """Tell whether `message_id` shows a known embed."""
        return message_id in self._by_message

    async def save(self) -> None:
        """Write the current state to the file atomically, off the event loop.

        Saves run one at a time; each writes the state as it is when its turn comes, so the newest
        state always lands last, and a save with nothing new since the last write does nothing
        (a burst of saves coalesces into one or two writes). An `OSError` from the write
        propagates and leaves the previous file intact; the next save tries again, and
        `save_failure` says since when saves fail until one succeeds.
        """
        async with self._lock:
            if self._version == self._saved_version:
                return
            version = self._version
            data = self._encode()
            try:
                await asyncio.to_thread(write_atomically, self._path, data)
            except OSError as exc:
                self._failed_saves += 1
                failure = self._save_failure
                self._save_failure = SaveFailure(
                    since=self._clock.time() if failure is None else failure.since,
                    attempts=1 if failure is None else failure.attempts + 1,
                    error=exc.strerror or str(exc),
                )
                raise
            self._save_failure = None
            self._saved_version = version
            self._writes += 1
            log.debug("Saved %d embed locations to %s", len(self._by_message), self._path)

    def _put(self, location: EmbedLocation) -> None:
        self._by_message[location.message_id] = location
        self._by_place[(location.channel_id, location.server_id)] = location.message_id

    def _pop(self, message_id: int) -> EmbedLocation | None:
        location = self._by_message.pop(message_id, None)
        if location is not None:
            place = (location.channel_id, location.server_id)
            if self._by_place.get(place) == message_id:
                del self._by_place[place]
        return location

    def _encode(self) -> bytes:
        document: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "locations": {
                # Snowflakes are written as strings: JSON readers in other languages lose
                # precision on integers above 2**53.
                str(loc.message_id): {
                    "guild_id": str(loc.guild_id),
                    "channel_id": str(loc.channel_id),
                    "server_id": loc.server_id,
                }
                for loc in self.all()
            },
        }
        if self._pending:
            # Only while a post is in flight (or after a crash): the usual file stays as it was.
            document["pending"] = [
                {
                    "guild_id": str(p.guild_id),
                    "channel_id": str(p.channel_id),
                    "server_id": p.server_id,
                    "started": p.started,
                }
                for p in self.pending()
            ]
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    def _read_or_set_aside(self) -> _Decoded:
        remove_leftovers(self._path, log)
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return _Decoded([])
        except OSError as exc:
            raise self._unusable(exc) from exc
        try:
            decoded = _decode(raw)
        except _InvalidFileError as exc:
            reason = str(exc)
        else:
            if decoded.rejected:
                aside = self._set_aside(copy=True)
                for problem in decoded.rejected:
                    log.warning(
                        "Embed locations file %s: %s; left out (a copy of the file is in %s)",
                        self._path,
                        problem,
                        aside,
                    )
            return decoded
        aside = self._set_aside()
        log.warning(
            "Embed locations file %s is unreadable (%s): moved it to %s and starting with no "
            "embeds; existing status messages will not update until /server_status is run again",
            self._path,
            reason,
            aside,
        )
        return _Decoded([])

    def _unusable(self, exc: OSError) -> EmbedLocationsError:
        """Say in one line what is wrong with the path and how to fix it."""
        path = self._path
        keep = "the bot refuses to start rather than lose track of its status messages"
        if isinstance(exc, IsADirectoryError):
            return EmbedLocationsError(
                LocationsFailure.IS_DIRECTORY,
                path,
                f"Embed locations file {path} is a directory, not a file: move it away or set "
                f"discord.locations_file to a file path (the bot creates the file); {keep}",
            )
        if isinstance(exc, NotADirectoryError):
            return EmbedLocationsError(
                LocationsFailure.PARENT_NOT_DIRECTORY,
                path,
                f"Embed locations file {path} cannot be read: a part of its folder path is a "
                f"file, not a folder; move that file away or set discord.locations_file to "
                f"another path; {keep}",
            )
        if isinstance(exc, PermissionError):
            return EmbedLocationsError(
                LocationsFailure.PERMISSION_DENIED,
                path,
                f"Embed locations file {path} cannot be read: permission denied; give the "
                f"bot's user read and write access to it and its folder (chown/chmod); {keep}",
            )
        return EmbedLocationsError(
            LocationsFailure.UNREADABLE,
            path,
            f"Embed locations file {path} cannot be read: {exc.strerror or exc}; {keep}",
        )

    def _set_aside(self, *, copy: bool = False) -> Path:
        """Move the file (or, with `copy`, a copy of it) to `*.corrupt-<UTC time>`."""
        aside = aside_name(self._path, self._clock.time())
        try:
            if copy:
                shutil.copy2(self._path, aside)
            else:
                os.replace(self._path, aside)
        except OSError as exc:
            raise EmbedLocationsError(
                LocationsFailure.CANNOT_SET_ASIDE,
                self._path,
                f"Embed locations file {self._path} is unreadable and could not be "
                f"{'copied' if copy else 'moved'} to {aside}: {exc.strerror or exc}. "
                "Fix or remove it by hand, then restart.",
            ) from exc
        return aside


def _snowflake(value: Any, what: str) -> int:
    # bool is an int subclass: true/false in the file is a mistake, not an id.
    if isinstance(value, bool):
        raise _InvalidFileError(f"{what} is {value!r}, expected a numeric id")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise _InvalidFileError(f"{what} is {value!r}, expected a numeric id")
    if number < 0 or number >= 2**64:
        raise _InvalidFileError(f"{what} is {value!r}, out of range for a Discord id")
    return number


def _server_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _InvalidFileError(f"{what} is {value!r}, expected a server identifier")
    return value.strip()


def _decode(raw: bytes) -> _Decoded:
    """Decode the file; whole-file problems raise, a bad entry is only listed in `rejected`."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _InvalidFileError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _InvalidFileError(f"top level is {type(document).__name__}, expected an object")
    if "version" in document:
        return _decode_versioned(document)
    return _decode_legacy(document)


def _decode_versioned(document: dict[str, Any]) -> _Decoded:
    version = document["version"]
    if version != FORMAT_VERSION:
        raise _InvalidFileError(
            f"format version {version!r} is not {FORMAT_VERSION}, the one this bot understands"
        )
    entries = document.get("locations")
    if not isinstance(entries, dict):
        raise _InvalidFileError('"locations" is missing or not an object')
    rejected: list[str] = []
    by_place: dict[tuple[int, str], EmbedLocation] = {}
    for key, entry in entries.items():
        where = f"locations[{key!r}]"
        try:
            if not isinstance(entry, dict):
                raise _InvalidFileError(f"{where} is not an object")
            location = EmbedLocation(
                message_id=_snowflake(key, f"{where} key"),
                guild_id=_snowflake(entry.get("guild_id"), f"{where}.guild_id"),
                channel_id=_snowflake(entry.get("channel_id"), f"{where}.channel_id"),
                server_id=_server_id(entry.get("server_id"), f"{where}.server_id"),
            )
        except _InvalidFileError as exc:
            rejected.append(str(exc))
            continue
        place = (location.channel_id, location.server_id)
        other = by_place.get(place)
        if other is not None:
            # Keep the newer message: the older one is the stray (reconciling deletes it).
            older, location = sorted((other, location), key=lambda loc: loc.message_id)
            rejected.append(
                f"locations[{str(older.message_id)!r}] repeats server {older.server_id!r} in "
                f"its channel (message {location.message_id} is kept)"
            )
        by_place[place] = location
    pending: list[PendingPost] = []
    raw_pending = document.get("pending", [])
    if not isinstance(raw_pending, list):
        rejected.append('"pending" is not a list')
        raw_pending = []
    for index, entry in enumerate(raw_pending):
        where = f"pending[{index}]"
        try:
            pending.append(_pending_post(entry, where))
        except _InvalidFileError as exc:
            rejected.append(str(exc))
    locations = sorted(by_place.values(), key=lambda loc: loc.message_id)
    return _Decoded(locations, pending, rejected)


def _pending_post(entry: Any, where: str) -> PendingPost:
    if not isinstance(entry, dict):
        raise _InvalidFileError(f"{where} is not an object")
    started = entry.get("started")
    if isinstance(started, bool) or not isinstance(started, int | float):
        raise _InvalidFileError(f"{where}.started is {started!r}, expected a Unix time")
    return PendingPost(
        guild_id=_snowflake(entry.get("guild_id"), f"{where}.guild_id"),
        channel_id=_snowflake(entry.get("channel_id"), f"{where}.channel_id"),
        server_id=_server_id(entry.get("server_id"), f"{where}.server_id"),
        started=float(started),
    )


def _decode_legacy(document: dict[str, Any]) -> _Decoded:
    """Read the original bot's flat `{"<server_id>": {"channel_id", "message_id"}}` file."""
    locations: list[EmbedLocation] = []
    rejected: list[str] = []
    for key, entry in document.items():
        where = f"{key!r}"
        try:
            if not isinstance(entry, dict):
                raise _InvalidFileError(f"{where} is not an object (and the file has no version)")
            guild = entry.get("guild_id")
            locations.append(
                EmbedLocation(
                    message_id=_snowflake(entry.get("message_id"), f"{where}.message_id"),
                    guild_id=0 if guild is None else _snowflake(guild, f"{where}.guild_id"),
                    channel_id=_snowflake(entry.get("channel_id"), f"{where}.channel_id"),
                    server_id=_server_id(key, f"{where} key"),
                )
            )
        except _InvalidFileError as exc:
            rejected.append(str(exc))
    return _Decoded(locations, [], rejected)
