"""Where the alerts' state survives a restart: a JSON file, or the history store.

`state_storage(history, file)` picks: the history store when `[history] url` names one
(`history.enabled`), else `alerts.json` beside the embed locations file. Both `load()` (None:
nothing kept yet, or what was kept could not be read — logged, and set aside) and `save(state)`.

A save that fails raises (`AlertStateError` WRITE_FAILED for the file, `StoreError` for the
store) and leaves the previous state in place: the caller keeps the state in memory and saves
again at its next change or retry; nothing is lost but what a crash meanwhile would lose.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Final, Protocol

from pterodisbot.alerts._codec import (
    AlertStateError,
    AlertStateFailure,
    decode_state,
    encode_state,
)
from pterodisbot.alerts._model import AlertState
from pterodisbot.clock import Clock, SystemClock
from pterodisbot.private_files import (
    aside_name,
    corrupt_stamp,
    remove_leftovers,
    write_atomically,
)

log = logging.getLogger(__name__)

# The name of the state in the history store's key-value table.
STORE_STATE_NAME: Final = "alerts"
STATE_FILE_NAME: Final = "alerts.json"
# Modes of what is created (chmod'ed explicitly: the umask does not apply to those).


class StateHistory(Protocol):
    """What the storage needs of `pterodisbot.store.History` (which has it all).

    Named here rather than imported: the config package reads the alerts' values, and the panel
    client's layer must not reach the store (and the monitor) through it.
    """

    @property
    def enabled(self) -> bool:
        """Tell whether a store is configured."""
        ...

    @property
    def shown(self) -> str:
        """Return where the store is, for logs (no password)."""
        ...

    async def get_state(self, name: str) -> str | None:
        """Read the text kept under `name`; None when there is none."""
        ...

    async def put_state(self, name: str, text: str) -> None:
        """Keep `text` under `name`, replacing what was there."""
        ...


class AlertStateStorage(Protocol):
    """Where the alerts' state is kept between runs."""

    async def load(self) -> AlertState | None:
        """Return the kept state; None when there is none or it could not be read (logged)."""
        ...

    async def save(self, state: AlertState) -> None:
        """Keep `state` in place of the previous one; raise if it could not be kept."""
        ...

    def describe(self) -> str:
        """Return where the state is kept, for logs (no password)."""
        ...


def state_storage(
    history: StateHistory, file: Path, *, clock: Clock | None = None
) -> AlertStateStorage:
    """Return the history store's storage when a store is configured, else the file's."""
    if history.enabled:
        return StoreStateStorage(history, clock=clock)
    return FileStateStorage(file, clock=clock)


class FileStateStorage:
    """The state in one JSON file, written atomically, 0600 in 0700 folders whatever the umask."""

    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        self._path = path
        self._clock = clock if clock is not None else SystemClock()
        # Saves one at a time, so the newest state always lands last.
        self._lock = asyncio.Lock()

    @property
    def path(self) -> Path:
        """Return the file's path."""
        return self._path

    def describe(self) -> str:
        """Return the file's path, for logs."""
        return f"file {self._path}"

    async def load(self) -> AlertState | None:
        """Read the file; a missing one is None, an unreadable one is set aside (None, logged).

        Raises `AlertStateError` when the path cannot be used at all (a folder, no permission):
        saving there would fail too, so the operator must hear of it at start.
        """
        async with self._lock:
            return await asyncio.to_thread(self._read_or_set_aside)

    async def save(self, state: AlertState) -> None:
        """Write the state atomically off the event loop; raise `AlertStateError` if it fails."""
        text = encode_state(state)
        async with self._lock:
            try:
                await asyncio.to_thread(write_atomically, self._path, text.encode())
            except OSError as exc:
                raise self._unusable(exc, writing=True) from exc

    def _read_or_set_aside(self) -> AlertState | None:
        remove_leftovers(self._path, log)
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unusable(exc, writing=False) from exc
        try:
            return decode_state(raw.decode("utf-8", errors="replace"), where=str(self._path))
        except AlertStateError as exc:
            problem = str(exc)
        aside = self._set_aside()
        log.warning(
            "alerts state %s could not be read (%s); moved it to %s and starting with no open "
            "incidents or mutes",
            self._path,
            problem,
            aside,
        )
        return None

    def _unusable(self, exc: OSError, *, writing: bool) -> AlertStateError:
        """Say in one line what is wrong with the path and how to fix it."""
        path, doing = self._path, "written" if writing else "read"
        if isinstance(exc, IsADirectoryError):
            return AlertStateError(
                AlertStateFailure.IS_DIRECTORY,
                f"Alerts state file {path} is a directory, not a file: move it away (the bot "
                "keeps alerts.json beside the embed locations file)",
            )
        if isinstance(exc, NotADirectoryError):
            return AlertStateError(
                AlertStateFailure.PARENT_NOT_DIRECTORY,
                f"Alerts state file {path} cannot be {doing}: a part of its folder path is a "
                "file, not a folder; move that file away or set discord.locations_file elsewhere",
            )
        if isinstance(exc, PermissionError):
            return AlertStateError(
                AlertStateFailure.PERMISSION_DENIED,
                f"Alerts state file {path} cannot be {doing}: permission denied; give the bot's "
                "user read and write access to it and its folder (chown/chmod)",
            )
        return AlertStateError(
            AlertStateFailure.WRITE_FAILED if writing else AlertStateFailure.UNREADABLE,
            f"Alerts state file {path} cannot be {doing}: {exc.strerror or exc}",
        )

    def _set_aside(self) -> Path:
        """Move the file to `*.corrupt-<UTC time>` (a free name)."""
        aside = aside_name(self._path, self._clock.time())
        try:
            os.replace(self._path, aside)
        except OSError as exc:
            raise AlertStateError(
                AlertStateFailure.CANNOT_SET_ASIDE,
                f"Alerts state file {self._path} is unreadable and could not be moved to "
                f"{aside}: {exc.strerror or exc}. Fix or remove it by hand, then restart.",
            ) from exc
        return aside


class StoreStateStorage:
    """The state as one named text in the history store (`state` / `pdb_state`)."""

    def __init__(self, history: StateHistory, *, clock: Clock | None = None) -> None:
        self._history = history
        self._clock = clock if clock is not None else SystemClock()
        self._lock = asyncio.Lock()

    def describe(self) -> str:
        """Return the store's address (no password), for logs."""
        return f"history store {self._history.shown}"

    async def load(self) -> AlertState | None:
        """Read the state; None when none is kept or it cannot be read (kept aside, logged).

        Raises `StoreError` when the store fails or is not open yet.
        """
        async with self._lock:
            text = await self._history.get_state(STORE_STATE_NAME)
            if text is None:
                return None
            try:
                return decode_state(text, where=f"alerts state in {self.describe()}")
            except AlertStateError as exc:
                aside = f"{STORE_STATE_NAME}.corrupt-{corrupt_stamp(self._clock.time())}"
                await self._history.put_state(aside, text)
                log.warning(
                    "alerts state in %s could not be read (%s); kept it as %r and starting "
                    "with no open incidents or mutes",
                    self.describe(),
                    exc,
                    aside,
                )
                return None

    async def save(self, state: AlertState) -> None:
        """Keep the state in the store; raise `StoreError` if it fails (the old one stays)."""
        text = encode_state(state)
        async with self._lock:
            await self._history.put_state(STORE_STATE_NAME, text)
