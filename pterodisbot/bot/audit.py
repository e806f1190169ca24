"""The audit trail of server controls: the log, a bounded JSONL file, and the audit channel.

A power signal leaves two entries: "sending", written before the panel is called (so a crash or
a kill -9 cannot leave a signal without a trace), then its outcome ("ok", "failed", or "unknown"
when the bot stopped before the panel answered). The log and the file keep both; the audit
channel only gets the outcome, one post per click.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import discord

from pterodisbot.bot.views import POWER_ACTIONS
from pterodisbot.clock import Clock, SystemClock
from pterodisbot.private_files import PRIVATE_FILE_MODE, make_private_folders

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
# Seconds during which more refusals of the same user, server and action are not posted again.
REFUSAL_QUIET_SECONDS = 60.0
AUDIT_FILENAME = "audit.jsonl"

Outcome = Literal["refused", "confirm", "cancelled", "sending", "ok", "failed", "unknown", "shown"]
# Attempts, before the panel is called: in the log and the file, not in the audit channel.
_NOT_POSTED: frozenset[str] = frozenset({"sending"})

# How the audit channel names an action ("stop", "stop:yes", "reload config"...).
_ACTION_WORDS: dict[str, str] = {
    "start": "Start",
    "stop": "Stop",
    "restart": "Restart",
    "kill": "Kill",
    "address": "Address",
    "reload config": "Config reload",
    "unknown": "Button",
}
# What happened, said between the action and the person: "Restart refused for @member".
_OUTCOME_WORDS: dict[str, str] = {
    "ok": "by",
    "shown": "shown to",
    "confirm": "awaiting confirmation from",
    "cancelled": "cancelled by",
    "failed": "failed for",
    "refused": "refused for",
    "sending": "being sent for",
    "unknown": "sent, outcome unknown, for",
}

_COLOURS: dict[str, int] = {
    "ok": 0x57F287,
    "shown": 0x5865F2,
    "confirm": 0x99AAB5,
    "cancelled": 0x99AAB5,
    "failed": 0xFEE75C,
    "refused": 0xED4245,
    "sending": 0x99AAB5,
    "unknown": 0xE67E22,
}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One attempt to use a server control, allowed or not."""

    t: float
    guild_id: int | None
    user_id: int
    user_name: str
    server_id: str | None
    server_name: str | None
    action: str
    allowed: bool
    outcome: Outcome
    # What happened, in words (the refusal reason, the panel's answer...).
    detail: str
    # Milliseconds the panel took to answer the signal; None when the panel was not called.
    latency_ms: float | None = None
    # What was done, in words, when "<Action> by <member>" would not say it: "Muted alerts for
    # Survival-1 for 2 h" (the audit channel adds "by <member>", `detail` says why).
    headline: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the entry as one JSON object (a line of the audit file)."""
        data = asdict(self)
        data["time"] = datetime.fromtimestamp(self.t, tz=UTC).isoformat(timespec="milliseconds")
        if self.latency_ms is not None:
            data["latency_ms"] = round(self.latency_ms, 1)
        return data

    def log_line(self) -> str:
        """Return the one-line log form of the entry."""
        latency = f" {self.latency_ms:.0f} ms" if self.latency_ms is not None else ""
        said = f"{self.headline} — {self.detail}" if self.headline else self.detail
        return (
            f"audit: {self.action} server={self.server_id or '-'} user={self.user_name} "
            f"({self.user_id}) guild={self.guild_id or 'DM'} "
            f"{'allowed' if self.allowed else 'refused'} {self.outcome}{latency}: {said}"
        )


def audit_headline(entry: AuditEntry) -> str:
    """Return what happened as a moderator reads it: "Stop confirmed by <@1> · Palworld"."""
    if entry.headline:
        # The entry says what was done itself ("Muted alerts for Palworld for 2 h").
        return f"{entry.headline} by <@{entry.user_id}>"
    action, _, step = entry.action.partition(":")
    what = _ACTION_WORDS.get(action, action.capitalize())
    said = _OUTCOME_WORDS.get(entry.outcome, entry.outcome)
    if entry.outcome == "ok" and step == "yes":
        said = "confirmed by"
    elif entry.outcome == "ok" and action in POWER_ACTIONS:
        said = "sent by"
    server = entry.server_name or entry.server_id or "unknown server"
    # A mention only where Discord renders it (a description, not a title or a field name);
    # the channel is sent with no allowed mentions, so nobody is pinged.
    return f"{what} {said} <@{entry.user_id}> · {server}"


def build_audit_embed(entry: AuditEntry) -> discord.Embed:
    """Return the compact embed posted to the audit channel for one entry (pure)."""
    text = f"{audit_headline(entry)}\n{entry.detail}" if entry.detail else audit_headline(entry)
    embed = discord.Embed(
        description=text[:4096],
        colour=_COLOURS.get(entry.outcome, 0x99AAB5),
        timestamp=datetime.fromtimestamp(entry.t, tz=UTC),
    )
    if entry.latency_ms is not None:
        embed.add_field(name="Panel answered in", value=f"{entry.latency_ms:.0f} ms")
    if entry.server_id:
        embed.set_footer(text=f"Server {entry.server_id}")
    return embed


class AuditFile:
    """An append-only JSONL file kept under `max_bytes` by dropping its oldest lines.

    Every write runs in a worker thread (an fsync must not stall the event loop); a lock keeps
    the lines in order. The file is created 0600 and a folder it creates 0700, whatever the umask:
    it names who did what to which server.
    """

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1024:
            raise ValueError(f"max_bytes must be at least 1024, not {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes
        self._lock = asyncio.Lock()
        self.trims = 0

    async def append(self, entry: AuditEntry) -> None:
        """Append one entry; trim the file first when the line would push it past the bound."""
        line = json.dumps(entry.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line.encode())

    def _append(self, data: bytes) -> None:
        make_private_folders(self.path.parent)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size + len(data) > self.max_bytes:
            self._trim(keep=self.max_bytes // 2 - len(data))
        # The mode only applies when the file is created; the umask can only take bits away.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def _trim(self, *, keep: int) -> None:
        """Keep only the newest whole lines that fit in `keep` bytes (atomic replace)."""
        try:
            data = self.path.read_bytes()
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return
        tail = data[-keep:] if keep > 0 else b""
        if len(tail) < len(data):
            # Cut at a line boundary: a half line is not JSON.
            newline = tail.find(b"\n")
            tail = tail[newline + 1 :] if newline >= 0 else b""
        spare = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        # The trimmed file keeps the mode of the one it replaces (0600 unless the operator chose
        # otherwise), even if a stale spare was left with another one.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(tail)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(spare, self.path)
        self.trims += 1
        log.info("audit file %s trimmed to its newest %d bytes", self.path, len(tail))

    async def flush(self) -> None:
        """Wait until a write in progress has finished."""
        async with self._lock:
            return

    def read(self) -> list[dict[str, Any]]:
        """Return every entry in the file, oldest first (for tests and tools)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


class AuditLog:
    """Record each control attempt: one log line, one line in the file, one audit channel post.

    A "sending" entry (a power signal about to go to the panel) is not posted: its outcome is.
    """

    def __init__(
        self,
        file: AuditFile | None,
        *,
        client: discord.Client | None = None,
        channel_id: int | None = None,
        clock: Clock | None = None,
        refusal_quiet: float = REFUSAL_QUIET_SECONDS,
    ) -> None:
        self.file = file
        self._client = client
        self.channel_id = channel_id
        self.clock: Clock = clock or SystemClock()
        self.recorded = 0
        self.posted = 0
        self.failures = 0
        self.quieted = 0
        self.refusal_quiet = refusal_quiet
        # (user, server, action) -> (when a refusal was last posted, refusals not posted since)
        self._refusals: dict[tuple[int, str | None, str], tuple[float, int]] = {}
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def record(self, entry: AuditEntry) -> None:
        """Log, store and post `entry`; a failing disk or channel is logged, never raised."""
        log.info("%s", entry.log_line())
        self._busy += 1
        self._idle.clear()
        try:
            if self.file is not None:
                try:
                    await self.file.append(entry)
                except OSError as exc:
                    self.failures += 1
                    log.error("could not write the audit file %s: %s", self.file.path, exc)
            await self._post(entry)
        finally:
            self.recorded += 1
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    def _quiet(self, entry: AuditEntry) -> tuple[bool, int]:
        """Decide whether a refusal repeats one posted moments ago; return (skip, held back)."""
        if entry.outcome != "refused" or self.refusal_quiet <= 0:
            return False, 0
        key = (entry.user_id, entry.server_id, entry.action)
        now = self.clock.monotonic()
        last = self._refusals.get(key)
        if last is not None and now - last[0] < self.refusal_quiet:
            self._refusals[key] = (last[0], last[1] + 1)
            return True, 0
        if len(self._refusals) > 1024:
            # Bounded: forget windows that have long closed.
            self._refusals = {
                k: v for k, v in self._refusals.items() if now - v[0] < self.refusal_quiet
            }
        self._refusals[key] = (now, 0)
        return False, last[1] if last is not None else 0

    async def _post(self, entry: AuditEntry) -> None:
        if self._client is None or self.channel_id is None or entry.outcome in _NOT_POSTED:
            return
        # Someone clicking a button they may not use, again and again, must not flood the
        # channel: the log and the file keep every attempt, the channel one per minute.
        skip, held_back = self._quiet(entry)
        if skip:
            self.quieted += 1
            return
        embed = build_audit_embed(entry)
        if held_back:
            embed.add_field(
                name="Also",
                value=f"{held_back} more refused attempt(s) like this, not posted (see the log)",
                inline=False,
            )
        channel = self._client.get_partial_messageable(self.channel_id)
        try:
            await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            self.failures += 1
            log.warning(
                "could not post to the audit channel %s (%s): check that the bot may send "
                "messages and embeds there",
                self.channel_id,
                exc,
            )
        else:
            self.posted += 1

    async def drain(self) -> None:
        """Wait until every entry being recorded is written and posted."""
        await self._idle.wait()

    async def close(self) -> None:
        """Wait for the entries being recorded, then for the file."""
        await self.drain()
        if self.file is not None:
            await self.file.flush()
