"""kill -9 in the middle of writes and rollups: the store opens, loses at most the batch in
flight, and its rollups equal a recomputation from the raw samples."""

from __future__ import annotations

import asyncio
import signal
import sys

from pterodisbot.store import DAY
from tests.processes import REPO, subprocess_env
from tests.store.conftest import Backend
from tests.store.reference import BASE, assert_points_equal, expected_buckets
from tests.store.writer_process import BATCH_S, SERVERS, batch_change, batch_samples

KILL_AFTER = 25


async def test_a_kill_9_loses_at_most_the_batch_in_flight(backend: Backend) -> None:
    where = str(backend.url.path) if backend.kind == "sqlite" else backend.url.dsn.reveal()  # type: ignore[union-attr]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.store.writer_process", backend.kind, where,
        cwd=REPO, env=subprocess_env(), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    printed: list[int] = []
    try:
        while len(printed) < KILL_AFTER:
            line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
            assert line, f"the writer died: {(await child.stderr.read()).decode()[-2000:]}"  # type: ignore[union-attr]
            printed.append(int(line))
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    store = backend.make()
    await store.open()
    try:
        recent = await store.recent(0)
        present = {int((t - BASE) // BATCH_S) for arrays in recent.values() for t in arrays.t}
        # Every printed batch is whole; at most the one in flight (committed or not) follows.
        assert set(printed) <= present <= {*printed, printed[-1] + 1}
        written = [row for k in sorted(present) for row in batch_samples(k)]
        for server in SERVERS:
            assert list(recent[server].t) == [r.t for r in written if r.server == server]
        changes = await store.state_changes("alpha", 0, BASE + 10 * DAY)
        assert list(changes) == [batch_change(k) for k in sorted(present)]

        end = BASE + (max(present) + 1) * BATCH_S
        await store.maintain(end + 130)
        # Past raw retention: only the rollups answer, the ones from before the kill included.
        await store.maintain(end + 3 * DAY)
        assert await store.recent(0) == {}
        for server in SERVERS:
            mine = [r for r in written if r.server == server]
            minutes = await store.series(server, BASE, end, 60)
            hours = await store.series(server, BASE, end, 3600)
            assert_points_equal(minutes.points, expected_buckets(mine, 60))
            assert_points_equal(hours.points, expected_buckets(mine, 3600))
    finally:
        await store.close()
