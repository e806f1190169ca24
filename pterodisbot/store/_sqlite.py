"""The default history store: one SQLite file in WAL mode, driven by aiosqlite off the event loop.

Schema (version in `PRAGMA user_version`): `servers` maps identifiers to small integer ids;
`raw`, `minute` and `hour` are WITHOUT ROWID tables keyed (server, t), so one server's range is
one contiguous read; `changes` holds status changes; `meta` the watermarks and floors; `state`
small named texts (the alerts' persisted state). Older files are migrated when opened: version 1
gains `state`, version 2 the players columns (`raw.players`, `PLAYER_COLUMNS` on the buckets).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import aiosqlite

from pterodisbot.store._model import (
    HOUR,
    MINUTE,
    RAW,
    ROLLUP_LAG_S,
    HistorySeries,
    MaintenanceReport,
    SampleRow,
    StateChange,
    StoreError,
    StoreFailure,
    Uptime,
)
from pterodisbot.store._rollup import (
    BUCKET_COLUMNS,
    HOUR_CHUNK_S,
    LIVE_FROM,
    MINUTE_CHUNK_S,
    NEVER,
    PLAYER_COLUMNS,
    SCHEMA_VERSION,
    STATE_COLUMNS,
    BucketRow,
    Marks,
    floor_to,
    group_recent,
    lowered,
    rebucket,
    sample_values,
    series_pieces,
    state_seconds,
    t_ms,
    uptime_pieces,
)

if TYPE_CHECKING:
    from pterodisbot.server_metrics_graphs import MetricArrays

log = logging.getLogger(__name__)

_BUCKET_DEFS = ", ".join(f"{name} INTEGER" for name in BUCKET_COLUMNS)
_STATE_TABLE: Final = (
    "CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
)
_SCHEMA: Final = (
    "CREATE TABLE servers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    # REAL-free on purpose: integers take 0-6 bytes on disk, a REAL always 8.
    "CREATE TABLE raw (server INTEGER NOT NULL, t INTEGER NOT NULL, state INTEGER NOT NULL,"
    " cpu INTEGER NOT NULL, mem INTEGER NOT NULL, disk INTEGER NOT NULL, rx INTEGER NOT NULL,"
    " tx INTEGER NOT NULL, uptime INTEGER NOT NULL, span INTEGER NOT NULL,"
    " suspended INTEGER NOT NULL, players INTEGER, PRIMARY KEY (server, t)) WITHOUT ROWID",
    f"CREATE TABLE minute (server INTEGER NOT NULL, t INTEGER NOT NULL, {_BUCKET_DEFS},"
    " PRIMARY KEY (server, t)) WITHOUT ROWID",
    f"CREATE TABLE hour (server INTEGER NOT NULL, t INTEGER NOT NULL, {_BUCKET_DEFS},"
    " PRIMARY KEY (server, t)) WITHOUT ROWID",
    "CREATE TABLE changes (server INTEGER NOT NULL, t INTEGER NOT NULL, before TEXT,"
    " after TEXT NOT NULL, PRIMARY KEY (server, t)) WITHOUT ROWID",
    _STATE_TABLE,
)
# What each older schema version lacks, applied in order when such a file is opened. An added
# column is appended, as in `_SCHEMA`, so a migrated file has the columns of a new one.
_MIGRATIONS: Final[Mapping[int, tuple[str, ...]]] = {
    1: (_STATE_TABLE,),
    2: (
        "ALTER TABLE raw ADD COLUMN players INTEGER",
        *(
            f"ALTER TABLE {tier} ADD COLUMN {column} INTEGER"
            for tier in ("minute", "hour")
            for column in PLAYER_COLUMNS
        ),
    ),
}
_LIVE = f"state >= {LIVE_FROM}"
_STATE_MS = ", ".join(
    f"SUM(CASE WHEN state = {code} THEN span ELSE 0 END)" for code in range(len(STATE_COLUMNS))
)
# Every server's raw samples of [lo, hi) ms as minute buckets; `server IN (...)` lets SQLite seek
# each server's range of the (server, t) key instead of scanning the table.
_MINUTE_ROLLUP: Final = (
    f"INSERT OR REPLACE INTO minute (server, t, {', '.join(BUCKET_COLUMNS)}) "
    f"SELECT r.server, r.t / 60000 * 60 AS b, SUM({_LIVE}),"
    f" SUM(CASE WHEN {_LIVE} THEN cpu END), MIN(CASE WHEN {_LIVE} THEN cpu END),"
    f" MAX(CASE WHEN {_LIVE} THEN cpu END), SUM(CASE WHEN {_LIVE} THEN mem END),"
    f" MIN(CASE WHEN {_LIVE} THEN mem END), MAX(CASE WHEN {_LIVE} THEN mem END),"
    " (SELECT d.disk FROM raw d WHERE d.server = r.server AND d.t >= r.t / 60000 * 60000"
    "  AND d.t < r.t / 60000 * 60000 + 60000"
    f"  AND d.state >= {LIVE_FROM} ORDER BY d.t DESC LIMIT 1),"
    f" SUM(CASE WHEN {_LIVE} THEN rx END), SUM(CASE WHEN {_LIVE} THEN tx END), {_STATE_MS},"
    " COUNT(players), SUM(players), MAX(players) "
    "FROM raw r WHERE r.server IN (SELECT id FROM servers) AND r.t >= ? AND r.t < ? "
    "GROUP BY r.server, b"
)
_HOUR_ROLLUP: Final = (
    f"INSERT OR REPLACE INTO hour (server, t, {', '.join(BUCKET_COLUMNS)}) "
    "SELECT m.server, m.t / 3600 * 3600 AS b, SUM(n), SUM(cpu_sum), MIN(cpu_min), MAX(cpu_max),"
    " SUM(mem_sum), MIN(mem_min), MAX(mem_max),"
    " (SELECT d.disk FROM minute d WHERE d.server = m.server AND d.t >= m.t / 3600 * 3600"
    "  AND d.t < m.t / 3600 * 3600 + 3600 AND d.disk IS NOT NULL ORDER BY d.t DESC LIMIT 1),"
    f" SUM(rx_sum), SUM(tx_sum), {', '.join(f'SUM({c})' for c in STATE_COLUMNS)},"
    " SUM(p_n), SUM(p_sum), MAX(p_max) "
    "FROM minute m WHERE m.server IN (SELECT id FROM servers) AND m.t >= ? AND m.t < ? "
    "GROUP BY m.server, b"
)
# A raw sample read as a one-sample bucket (see `_rollup.BucketRow`).
_RAW_AS_BUCKET: Final = (
    f"SELECT t / 1000.0, {_LIVE}, CASE WHEN {_LIVE} THEN cpu END, CASE WHEN {_LIVE} THEN cpu END,"
    f" CASE WHEN {_LIVE} THEN cpu END, CASE WHEN {_LIVE} THEN mem END,"
    f" CASE WHEN {_LIVE} THEN mem END, CASE WHEN {_LIVE} THEN mem END,"
    f" CASE WHEN {_LIVE} THEN disk END, CASE WHEN {_LIVE} THEN rx END,"
    f" CASE WHEN {_LIVE} THEN tx END, "
    + ", ".join(
        f"CASE WHEN state = {code} THEN span ELSE 0 END" for code in range(len(STATE_COLUMNS))
    )
    + ", players IS NOT NULL, players, players"
    + " FROM raw WHERE server = ? AND t >= ? AND t < ? ORDER BY t"
)
_MARK_KEYS: Final = ("minute", "hour", "raw_floor", "minute_floor")
_OWNER_ONLY_DIR: Final = 0o700
_OWNER_ONLY_FILE: Final = 0o600


class SqliteStore:
    """The history in one SQLite file; every statement runs on aiosqlite's thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: aiosqlite.Connection | None = None
        # One connection, so one transaction at a time: writes, rollup chunks and reads queue.
        self._lock = asyncio.Lock()
        self._ids: dict[str, int] = {}

    @property
    def shown(self) -> str:
        """Return where the store is, for logs."""
        return f"sqlite:///{self._path}"

    async def open(self) -> None:
        """Create the folder and file if missing, open it in WAL mode and make the schema ready."""
        if self._conn is not None:
            return
        await asyncio.to_thread(self._prepare_path)
        try:
            conn = await aiosqlite.connect(self._path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)
        try:
            await self._setup(conn)
        except (sqlite3.Error, OSError) as exc:
            await conn.close()
            self._fail(exc)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def write(self, samples: Sequence[SampleRow], changes: Sequence[StateChange]) -> None:
        """Write one batch in one transaction; a sample already there is kept once."""
        if not samples and not changes:
            return
        async with self._transaction() as conn:
            ids = await self._server_ids(
                conn, {r.server for r in samples} | {c.server for c in changes}
            )
            marks = await _read_marks(conn)
            floor_ms = marks.raw_floor * 1000
            # Older than what retention already dropped: its buckets cannot be recomputed.
            kept = [r for r in samples if t_ms(r.t) >= floor_ms]
            rows = [sample_values(r, ids[r.server]) for r in kept]
            if rows:
                await conn.executemany(
                    "INSERT OR IGNORE INTO raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
                new = lowered(marks, min(t_ms(r.t) for r in kept) / 1000)
                if new != marks:
                    await _write_marks(conn, new)
            if changes:
                await conn.executemany(
                    "INSERT OR IGNORE INTO changes VALUES (?, ?, ?, ?)",
                    [(ids[c.server], t_ms(c.t), c.before, c.after) for c in changes],
                )

    async def series(self, server: str, start: float, end: float, step_s: int) -> HistorySeries:
        """Read a server's buckets of `step_s` seconds over `[start, end)`."""
        rows: list[BucketRow] = []
        async with self._reading() as conn:
            sid = await self._known_id(conn, server)
            if sid is not None:
                marks = await _read_marks(conn)
                for tier, lo, hi in series_pieces(marks, start, end, step_s):
                    rows.extend(await _bucket_rows(conn, tier, sid, lo, hi))
        # Merging thousands of rows in Python takes tens of ms: not on the event loop.
        points = await asyncio.to_thread(rebucket, rows, step_s)
        return HistorySeries(server, start, end, step_s, points)

    async def uptime(self, server: str, start: float, end: float) -> Uptime:
        """Read how a server spent `[start, end)`; time no sample covers is unknown."""
        totals = [0.0] * len(STATE_COLUMNS)
        async with self._reading() as conn:
            sid = await self._known_id(conn, server)
            if sid is not None:
                marks = await _read_marks(conn)
                for tier, lo, hi in uptime_pieces(marks, start, end):
                    sums = await _state_sums(conn, tier, sid, lo, hi)
                    totals = [a + float(b or 0) for a, b in zip(totals, sums, strict=True)]
        return Uptime.over(state_seconds(totals), end - start)

    async def state_changes(self, server: str, start: float, end: float) -> Sequence[StateChange]:
        """Read a server's status changes in `[start, end)`, oldest first."""
        async with self._reading() as conn:
            sid = await self._known_id(conn, server)
            if sid is None:
                return ()
            cursor = await conn.execute(
                "SELECT t, before, after FROM changes WHERE server = ? AND t >= ? AND t < ?"
                " ORDER BY t",
                (sid, t_ms(start), t_ms(end)),
            )
            found = await cursor.fetchall()
        return tuple(StateChange(server, t / 1000, before, after) for t, before, after in found)

    async def recent(self, since: float) -> Mapping[str, MetricArrays]:
        """Read every server's raw samples since `since`, oldest first."""
        async with self._reading() as conn:
            cursor = await conn.execute("SELECT id, name FROM servers")
            names = {int(i): str(n) for i, n in await cursor.fetchall()}
            cursor = await conn.execute(
                "SELECT server, t, state, cpu, mem, disk, rx, tx, uptime, suspended, players"
                " FROM raw"
                " WHERE server IN (SELECT id FROM servers) AND t >= ? ORDER BY server, t",
                (t_ms(since),),
            )
            rows = await cursor.fetchall()
        return group_recent(rows, names)

    async def maintain(self, now: float) -> MaintenanceReport:
        """Roll up closed buckets in bounded chunks, then drop what is past retention."""
        minute_buckets = hour_buckets = 0
        closed = floor_to(now - ROLLUP_LAG_S, 60)
        while True:
            async with self._transaction() as conn:
                marks = await _read_marks(conn)
                lo = await _next_bucket(conn, "raw", marks.minute, closed, 60)
                hi = min(closed, lo + MINUTE_CHUNK_S)
                if hi <= lo:
                    if lo != marks.minute:
                        await _write_marks(conn, _replace(marks, minute=lo))
                    break
                cursor = await conn.execute(_MINUTE_ROLLUP, (lo * 1000, hi * 1000))
                minute_buckets += max(cursor.rowcount, 0)
                await _write_marks(conn, _replace(marks, minute=hi))
        while True:
            async with self._transaction() as conn:
                marks = await _read_marks(conn)
                target = floor_to(min(marks.minute, closed), 3600)
                lo = await _next_bucket(conn, "minute", marks.hour, target, 3600)
                hi = min(target, lo + HOUR_CHUNK_S)
                if hi <= lo:
                    if lo != marks.hour:
                        await _write_marks(conn, _replace(marks, hour=lo))
                    break
                cursor = await conn.execute(_HOUR_ROLLUP, (lo, hi))
                hour_buckets += max(cursor.rowcount, 0)
                await _write_marks(conn, _replace(marks, hour=hi))
        dropped = await self._drop_expired(now)
        return MaintenanceReport(minute_buckets, hour_buckets, dropped)

    async def size_bytes(self) -> int:
        """Return the bytes of the database file and its write-ahead log."""

        def measure() -> int:
            total = 0
            for suffix in ("", "-wal"):
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(f"{self._path}{suffix}").st_size
            return total

        return await asyncio.to_thread(measure)

    async def get_state(self, name: str) -> str | None:
        """Read the text kept under `name`; None when there is none."""
        async with self._reading() as conn:
            cursor = await conn.execute("SELECT value FROM state WHERE name = ?", (name,))
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def put_state(self, name: str, text: str) -> None:
        """Keep `text` under `name`, replacing what was there."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)", (name, text)
            )

    async def close(self) -> None:
        """Close the connection (checkpointing the log); idempotent."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        async with self._lock:
            with contextlib.suppress(sqlite3.Error):
                await conn.close()

    async def _drop_expired(self, now: float) -> int:
        """Drop raw, minute, hour rows and changes past retention; return the raw rows dropped."""
        async with self._transaction() as conn:
            marks = await _read_marks(conn)
            ids = [(i,) for (i,) in await (await conn.execute("SELECT id FROM servers")).fetchall()]
            raw_cut = min(floor_to(now - RAW.retention_s, 60), marks.minute)
            minute_cut = min(floor_to(now - MINUTE.retention_s, 3600), marks.hour, raw_cut)
            dropped = 0
            if raw_cut > marks.raw_floor:
                before = conn.total_changes
                await conn.executemany(
                    "DELETE FROM raw WHERE server = ? AND t < ?",
                    [(i, raw_cut * 1000) for (i,) in ids],
                )
                dropped = conn.total_changes - before
            if minute_cut > marks.minute_floor:
                await conn.executemany(
                    "DELETE FROM minute WHERE server = ? AND t < ?",
                    [(i, minute_cut) for (i,) in ids],
                )
            hour_cut = floor_to(now - HOUR.retention_s, 3600)
            await conn.executemany(
                "DELETE FROM hour WHERE server = ? AND t < ?", [(i, hour_cut) for (i,) in ids]
            )
            await conn.executemany(
                "DELETE FROM changes WHERE server = ? AND t < ?",
                [(i, hour_cut * 1000) for (i,) in ids],
            )
            new = _replace(
                marks,
                raw_floor=max(marks.raw_floor, raw_cut),
                minute_floor=max(marks.minute_floor, minute_cut),
            )
            if new != marks:
                await _write_marks(conn, new)
        return dropped

    def _prepare_path(self) -> None:
        """Create the file's folder (owner only) and the file (owner only) if missing."""
        folder = self._path.parent
        if not folder.is_dir():
            try:
                folder.mkdir(mode=_OWNER_ONLY_DIR, parents=True)
            except OSError as exc:
                raise StoreError(
                    StoreFailure.MISSING,
                    f"history database {self._path}: its folder {folder} does not exist and "
                    f"cannot be created ({exc.strerror or exc}): create it, or change "
                    "[history] url",
                ) from exc
        try:
            if not self._path.exists():
                fd = os.open(self._path, os.O_CREAT | os.O_WRONLY, _OWNER_ONLY_FILE)
                os.close(fd)
        except OSError as exc:
            self._fail(exc)

    async def _setup(self, conn: aiosqlite.Connection) -> None:
        await conn.execute("PRAGMA busy_timeout = 5000")
        cursor = await conn.execute("PRAGMA user_version")
        row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION or version < 0:
            raise StoreError(
                StoreFailure.CORRUPT,
                f"{self._path} has history schema version {version}, newer than this version of "
                f"Pterodisbot knows ({SCHEMA_VERSION}): upgrade the bot, or point [history] url "
                "at another file",
            )
        if version == 0:
            cursor = await conn.execute("SELECT count(*) FROM sqlite_master")
            found = await cursor.fetchone()
            if found and int(found[0]):
                raise StoreError(
                    StoreFailure.CORRUPT,
                    f"{self._path} is an SQLite database of something else (it has tables and no "
                    "history schema version): point [history] url at a new file",
                )
        # WAL: readers never wait for the writer; NORMAL: a commit survives a crash of the
        # process (only a power cut may lose the last transactions).
        cursor = await conn.execute("PRAGMA journal_mode = WAL")
        mode = await cursor.fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            raise StoreError(
                StoreFailure.READ_ONLY,
                f"{self._path} cannot be switched to WAL mode (is its folder writable?): "
                "make the folder and file writable by the bot's user",
            )
        await conn.execute("PRAGMA synchronous = NORMAL")
        if version == 0:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                await conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise
        else:
            # SQLite opens a file it may not write read-only, silently: write once now, so a
            # read-only file is told at start rather than at the first flush.
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for older in range(version, SCHEMA_VERSION):
                    for statement in _MIGRATIONS[older]:
                        await conn.execute(statement)
                if version != SCHEMA_VERSION:
                    log.info(
                        "history database %s: schema upgraded from version %d to %d",
                        self._path,
                        version,
                        SCHEMA_VERSION,
                    )
                await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                await conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                    (SCHEMA_VERSION,),
                )
                await conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise
        cursor = await conn.execute("SELECT id, name FROM servers")
        self._ids = {str(n): int(i) for i, n in await cursor.fetchall()}

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block in one write transaction, rolled back if it fails."""
        async with self._reading() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                await conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                # Ids handed out in the rolled-back transaction do not exist.
                self._ids = {}
                raise

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the connection for the block and turn driver errors into `StoreError`."""
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(
                    StoreFailure.OTHER, f"{self.shown} is not open (the bot is closing)"
                )
            try:
                yield conn
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)

    async def _server_ids(self, conn: aiosqlite.Connection, names: set[str]) -> dict[str, int]:
        missing = sorted(names - self._ids.keys())
        if missing:
            await conn.executemany(
                "INSERT OR IGNORE INTO servers (name) VALUES (?)", [(n,) for n in missing]
            )
            cursor = await conn.execute("SELECT id, name FROM servers")
            self._ids = {str(n): int(i) for i, n in await cursor.fetchall()}
        return {name: self._ids[name] for name in names}

    async def _known_id(self, conn: aiosqlite.Connection, server: str) -> int | None:
        if server not in self._ids:
            cursor = await conn.execute("SELECT id FROM servers WHERE name = ?", (server,))
            row = await cursor.fetchone()
            if row is None:
                return None
            self._ids[server] = int(row[0])
        return self._ids[server]

    def _fail(self, exc: BaseException) -> NoReturn:
        """Raise the `StoreError` a driver or file error means, naming the file and the fix."""
        raise _store_error(self._path, exc) from exc


def _store_error(path: Path, exc: BaseException) -> StoreError:
    where = f"history database {path}"
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        if exc.errno == errno.ENOSPC:
            return StoreError(StoreFailure.DISK_FULL, f"{where}: the disk is full: free space")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return StoreError(
                StoreFailure.READ_ONLY,
                f"{where}: cannot create {exc.filename or path} (permission denied): make its "
                "folder writable by the bot's user, or change [history] url",
            )
        if exc.errno == errno.ENOENT:
            return StoreError(
                StoreFailure.MISSING,
                f"{where}: its folder {path.parent} does not exist and cannot be created: "
                "create it, or change [history] url",
            )
        return StoreError(StoreFailure.OTHER, f"{where}: {exc.strerror or exc}")
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    name = getattr(exc, "sqlite_errorname", type(exc).__name__)
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM) or (
        code == sqlite3.SQLITE_CANTOPEN and not _writable(path)
    ):
        return StoreError(
            StoreFailure.READ_ONLY,
            f"{where} is read-only ({name}): make the file and its folder writable by the "
            "bot's user",
        )
    if code == sqlite3.SQLITE_FULL:
        return StoreError(StoreFailure.DISK_FULL, f"{where}: the disk is full ({name}): free space")
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return StoreError(
            StoreFailure.CORRUPT,
            f"{where} is not a usable SQLite database ({name}): move it aside and restart, "
            "the bot creates a new one",
        )
    if code == sqlite3.SQLITE_CANTOPEN:
        return StoreError(
            StoreFailure.MISSING, f"{where} cannot be opened ({name}): check the path"
        )
    return StoreError(StoreFailure.OTHER, f"{where}: {name}: {exc}")


def _writable(path: Path) -> bool:
    target = path if path.exists() else path.parent
    return os.access(target, os.W_OK) and os.access(path.parent, os.W_OK)


async def _read_marks(conn: aiosqlite.Connection) -> Marks:
    cursor = await conn.execute("SELECT key, value FROM meta")
    stored = {str(k): int(v) for k, v in await cursor.fetchall()}
    defaults = Marks()
    return Marks(*(stored.get(key, getattr(defaults, key)) for key in _MARK_KEYS))


async def _write_marks(conn: aiosqlite.Connection, marks: Marks) -> None:
    await conn.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [(key, getattr(marks, key)) for key in _MARK_KEYS if getattr(marks, key) != NEVER],
    )


def _replace(marks: Marks, **changes: int) -> Marks:
    values = {key: getattr(marks, key) for key in _MARK_KEYS}
    values.update(changes)
    return Marks(**values)


async def _next_bucket(
    conn: aiosqlite.Connection, source: str, mark: int, limit: int, step: int
) -> int:
    """Return where rolling up from `mark` starts: empty time (the bot was off) is skipped."""
    if mark >= limit:
        return mark
    scale = 1000 if source == "raw" else 1
    cursor = await conn.execute(
        f"SELECT MIN(t) FROM {source} WHERE server IN (SELECT id FROM servers) AND t >= ?",
        (mark * scale,),
    )
    row = await cursor.fetchone()
    if row is None or row[0] is None:
        return limit
    return min(limit, max(mark, floor_to(int(row[0]) / scale, step)))


async def _bucket_rows(
    conn: aiosqlite.Connection, tier: str, sid: int, lo: float, hi: float
) -> list[BucketRow]:
    if tier == "raw":
        cursor = await conn.execute(_RAW_AS_BUCKET, (sid, t_ms(lo), t_ms(hi)))
    else:
        cursor = await conn.execute(
            f"SELECT t, {', '.join(BUCKET_COLUMNS)} FROM {tier}"
            " WHERE server = ? AND t >= ? AND t < ? ORDER BY t",
            (sid, lo, hi),
        )
    return list(await cursor.fetchall())


async def _state_sums(
    conn: aiosqlite.Connection, tier: str, sid: int, lo: float, hi: float
) -> Sequence[float | int | None]:
    if tier == "raw":
        cursor = await conn.execute(
            f"SELECT {_STATE_MS} FROM raw WHERE server = ? AND t >= ? AND t < ?",
            (sid, t_ms(lo), t_ms(hi)),
        )
    else:
        cursor = await conn.execute(
            f"SELECT {', '.join(f'SUM({c})' for c in STATE_COLUMNS)} FROM {tier}"
            " WHERE server = ? AND t >= ? AND t < ?",
            (sid, lo, hi),
        )
    row = await cursor.fetchone()
    return tuple(row) if row else (0,) * len(STATE_COLUMNS)
