"""Remember where the status embeds live (`embed/embed_locations.json`), written atomically.

The file is what lets a restarted bot keep editing the same messages, so it is never emptied in
place: a file that cannot be read is moved aside for the operator, and every write goes to a
temporary file that replaces the old one only once it is complete and on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pterodisbot.clock import SystemClock

if TYPE_CHECKING:
    from pterodisbot.clock import Clock

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class EmbedLocationsError(Exception):
    """The locations file could not be read or set aside; the message says which path and why."""


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


class EmbedLocations:
    """The set of status embeds the bot keeps current, persisted as versioned JSON."""

    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        self._path = Path(path)
        self._clock: Clock = clock or SystemClock()
        self._by_message: dict[int, EmbedLocation] = {}
        self._by_place: dict[tuple[int, str], int] = {}
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

        Raises `EmbedLocationsError` when the file exists but can be neither read nor moved aside:
        starting empty then would overwrite it on the next save.
        """
        async with self._lock:
            locations = await asyncio.to_thread(self._read_or_set_aside)
            self._by_message.clear()
            self._by_place.clear()
            for location in locations:
                self._put(location)
            self._version += 1
            self._saved_version = self._version

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
                await asyncio.to_thread(_write_atomically, self._path, data)
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
        document = {
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
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    def _read_or_set_aside(self) -> list[EmbedLocation]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise EmbedLocationsError(
                f"Cannot read embed locations file {self._path}: {exc.strerror or exc}"
            ) from exc
        try:
            return _decode(raw)
        except _InvalidFileError as exc:
            reason = str(exc)
        aside = self._set_aside()
        log.warning(
            "Embed locations file %s is unreadable (%s): moved it to %s and starting with no "
            "embeds; existing status messages will not update until /server_status is run again",
            self._path,
            reason,
            aside,
        )
        return []

    def _set_aside(self) -> Path:
        stamp = datetime.fromtimestamp(self._clock.time(), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{self._path.name}.corrupt-{stamp}"
        aside = self._path.with_name(base)
        counter = 1
        while aside.exists():
            counter += 1
            aside = self._path.with_name(f"{base}-{counter}")
        try:
            os.replace(self._path, aside)
        except OSError as exc:
            raise EmbedLocationsError(
                f"Embed locations file {self._path} is unreadable and could not be moved to "
                f"{aside}: {exc.strerror or exc}. Fix or remove it by hand, then restart."
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


def _decode(raw: bytes) -> list[EmbedLocation]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _InvalidFileError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _InvalidFileError(f"top level is {type(document).__name__}, expected an object")
    if "version" in document:
        return _decode_versioned(document)
    return _decode_legacy(document)


def _decode_versioned(document: dict[str, Any]) -> list[EmbedLocation]:
    version = document["version"]
    if version != FORMAT_VERSION:
        raise _InvalidFileError(
            f"format version {version!r} is not {FORMAT_VERSION}, the one this bot understands"
        )
    entries = document.get("locations")
    if not isinstance(entries, dict):
        raise _InvalidFileError('"locations" is missing or not an object')
    locations: list[EmbedLocation] = []
    places: set[tuple[int, str]] = set()
    for key, entry in entries.items():
        where = f"locations[{key!r}]"
        if not isinstance(entry, dict):
            raise _InvalidFileError(f"{where} is not an object")
        location = EmbedLocation(
            message_id=_snowflake(key, f"{where} key"),
            guild_id=_snowflake(entry.get("guild_id"), f"{where}.guild_id"),
            channel_id=_snowflake(entry.get("channel_id"), f"{where}.channel_id"),
            server_id=_server_id(entry.get("server_id"), f"{where}.server_id"),
        )
        place = (location.channel_id, location.server_id)
        if place in places:
            raise _InvalidFileError(f"{where} repeats server {location.server_id!r} in its channel")
        places.add(place)
        locations.append(location)
    return locations


def _decode_legacy(document: dict[str, Any]) -> list[EmbedLocation]:
    """Read the original bot's flat `{"<server_id>": {"channel_id", "message_id"}}` file."""
    locations: list[EmbedLocation] = []
    for key, entry in document.items():
        where = f"{key!r}"
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
    return locations


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` by `data` so that a reader or a crash sees either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    replaced = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; keep whatever mode the operator gave the existing file.
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
        replaced = True
    finally:
        if not replaced:
            with contextlib.suppress(OSError):
                tmp.unlink()
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk. Some platforms and
    # filesystems cannot open or fsync a directory; the file itself is already safe there.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
