"""Where the alerts' state survives: the file beside the embed locations, or the history store."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pterodisbot.alerts import (
    STATE_FILE_NAME,
    AlertServer,
    AlertState,
    AlertStateError,
    AlertStateFailure,
    FileStateStorage,
    Incident,
    MessageRef,
    Rule,
    StoreStateStorage,
    encode_state,
    state_storage,
)
from pterodisbot.clock import FakeClock
from pterodisbot.config import HistoryURL
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot.store import HistoryRecorder, NoHistory, open_store

INCIDENT = Incident(
    id="crash-aaaa0001-1",
    rule=Rule.CRASH,
    subject="aaaa0001",
    servers=(AlertServer("aaaa0001", "Survival-1", "node-1"),),
    started_at=1_700_000_000.5,
    fired_at=1_700_000_000.5,
    updated_at=1_700_000_000.5,
)
STATE = AlertState(
    incidents=(INCIDENT,),
    messages={INCIDENT.id: MessageRef(111, 222)},
    last_status={"aaaa0001": "offline"},
    saved_at=1_700_000_001.0,
)
# FakeClock's default epoch, as the set-aside file's name prints it.
STAMP = "20231114T221320Z"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --------------------------------------------------------------------------- the file


async def test_a_saved_state_loads_back_and_a_missing_file_is_none(
    tmp_path: Path, clock: FakeClock
) -> None:
    storage = FileStateStorage(tmp_path / STATE_FILE_NAME, clock=clock)
    assert await storage.load() is None

    await storage.save(STATE)

    assert await FileStateStorage(tmp_path / STATE_FILE_NAME, clock=clock).load() == STATE
    assert storage.describe() == f"file {tmp_path / STATE_FILE_NAME}"


async def test_the_file_is_private_and_so_are_the_folders_it_creates_whatever_the_umask(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "deep" / "embed" / STATE_FILE_NAME
    # A umask that even takes the owner's write bit: mkdir and open alone would make 0500/0400.
    old = os.umask(0o277)
    try:
        await FileStateStorage(path, clock=clock).save(STATE)
    finally:
        os.umask(old)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


async def test_a_save_keeps_the_mode_the_operator_gave_the_file(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / STATE_FILE_NAME
    storage = FileStateStorage(path, clock=clock)
    await storage.save(AlertState(saved_at=1.0))
    path.chmod(0o640)

    await storage.save(STATE)

    assert stat.S_IMODE(path.stat().st_mode) == 0o640


async def test_a_save_replaces_the_file_whole_and_leaves_no_temporary(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / STATE_FILE_NAME
    storage = FileStateStorage(path, clock=clock)
    await storage.save(AlertState(saved_at=1.0))

    await storage.save(STATE)

    assert path.read_text() == encode_state(STATE)
    assert sorted(os.listdir(tmp_path)) == [STATE_FILE_NAME]


async def test_a_temporary_left_by_an_interrupted_save_is_removed_on_load(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / STATE_FILE_NAME
    await FileStateStorage(path, clock=clock).save(STATE)
    leftover = tmp_path / f".{STATE_FILE_NAME}.k1ll3d.tmp"
    leftover.write_text('{"version": 1, "incid')

    loaded = await FileStateStorage(path, clock=clock).load()

    assert loaded == STATE
    assert not leftover.exists()


async def test_a_corrupt_file_is_moved_aside_and_logged_and_loads_as_none(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / STATE_FILE_NAME
    path.write_text("{this is not json")

    with caplog.at_level(logging.WARNING, logger="pterodisbot.alerts"):
        loaded = await FileStateStorage(path, clock=clock).load()

    aside = tmp_path / f"{STATE_FILE_NAME}.corrupt-{STAMP}"
    assert loaded is None
    assert not path.exists()
    assert aside.read_text() == "{this is not json"
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"alerts state {path} could not be read ({path} is not JSON")
    assert line.endswith(f"moved it to {aside} and starting with no open incidents or mutes")


async def test_a_state_from_a_newer_version_is_set_aside_not_overwritten(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / STATE_FILE_NAME
    path.write_text('{"version": 9}')
    (tmp_path / f"{STATE_FILE_NAME}.corrupt-{STAMP}").write_text("older")

    assert await FileStateStorage(path, clock=clock).load() is None
    assert (tmp_path / f"{STATE_FILE_NAME}.corrupt-{STAMP}-2").read_text() == '{"version": 9}'


async def test_a_directory_where_the_file_should_be_is_a_clear_error(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / STATE_FILE_NAME
    path.mkdir()
    storage = FileStateStorage(path, clock=clock)

    with pytest.raises(AlertStateError) as on_load:
        await storage.load()
    with pytest.raises(AlertStateError) as on_save:
        await storage.save(STATE)

    for caught in (on_load, on_save):
        assert caught.value.reason is AlertStateFailure.IS_DIRECTORY
        assert str(caught.value).startswith(f"Alerts state file {path} is a directory")
    assert path.is_dir()


async def test_a_folder_path_through_a_file_is_named(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "embed").write_text("a file, not a folder")
    storage = FileStateStorage(tmp_path / "embed" / STATE_FILE_NAME, clock=clock)

    with pytest.raises(AlertStateError) as caught:
        await storage.load()

    assert caught.value.reason is AlertStateFailure.PARENT_NOT_DIRECTORY


# --------------------------------------------------------------------------- the store


@pytest.fixture
async def recorder(tmp_path: Path, clock: FakeClock) -> AsyncIterator[HistoryRecorder]:
    store = open_store(HistoryURL("sqlite", path=tmp_path / "history.sqlite3"))
    assert store is not None
    rec = HistoryRecorder(
        store, flush_interval=10.0, buffer_limit=100, expected_cycle=lambda: 10.0, clock=clock
    )
    await rec.start(ServerMetricsManager(capacity=10), since=clock.time() - 100)
    try:
        yield rec
    finally:
        await rec.close()


async def test_with_a_history_store_the_state_is_kept_there(
    recorder: HistoryRecorder, tmp_path: Path, clock: FakeClock
) -> None:
    storage = state_storage(recorder, tmp_path / STATE_FILE_NAME, clock=clock)
    assert isinstance(storage, StoreStateStorage)
    assert await storage.load() is None

    await storage.save(STATE)

    assert await storage.load() == STATE
    assert await recorder.get_state("alerts") == encode_state(STATE)
    assert not (tmp_path / STATE_FILE_NAME).exists()
    assert storage.describe() == f"history store sqlite:///{tmp_path / 'history.sqlite3'}"


async def test_without_a_history_store_the_state_is_kept_in_the_file(
    tmp_path: Path, clock: FakeClock
) -> None:
    storage = state_storage(NoHistory(), tmp_path / STATE_FILE_NAME, clock=clock)

    await storage.save(STATE)

    assert isinstance(storage, FileStateStorage)
    assert (tmp_path / STATE_FILE_NAME).read_text() == encode_state(STATE)


async def test_an_unreadable_state_in_the_store_is_kept_aside_and_loads_as_none(
    recorder: HistoryRecorder, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await recorder.put_state("alerts", "garbage")
    storage = StoreStateStorage(recorder, clock=clock)

    with caplog.at_level(logging.WARNING, logger="pterodisbot.alerts"):
        loaded = await storage.load()

    assert loaded is None
    assert await recorder.get_state(f"alerts.corrupt-{STAMP}") == "garbage"
    assert len(caplog.records) == 1
