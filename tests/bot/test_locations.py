"""The embed locations file survives restarts, crashes, corruption and bursts of saves."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pterodisbot.bot.locations import (
    EmbedLocation,
    EmbedLocations,
    EmbedLocationsError,
    LocationsFailure,
    PendingPost,
)
from pterodisbot.clock import FakeClock

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
STATUS_CHANNEL = 333_333_333_333_333_333
OTHER_CHANNEL = 444_444_444_444_444_444


def loc(
    message_id: int,
    server_id: str = "1a2b3c4d",
    *,
    channel: int = STATUS_CHANNEL,
    guild: int = GUILD,
) -> EmbedLocation:
    return EmbedLocation(
        message_id=message_id, guild_id=guild, channel_id=channel, server_id=server_id
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "embed" / "embed_locations.json"


async def loaded(path: Path, clock: FakeClock | None = None) -> EmbedLocations:
    store = EmbedLocations(path, clock=clock)
    await store.load()
    return store


# Plain file helpers: tiny blocking I/O, kept out of the async test bodies.
def write(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


def read(path: Path) -> bytes:
    return path.read_bytes()


def listing(directory: Path, pattern: str = "*") -> list[Path]:
    return sorted(directory.glob(pattern))


def exists(path: Path) -> bool:
    return path.exists()


def entry(
    message_id: str, guild: object = "1", channel: object = "2", server: object = "x"
) -> bytes:
    body = {"guild_id": guild, "channel_id": channel, "server_id": server}
    return json.dumps({"version": 1, "locations": {message_id: body}}).encode()


async def test_embeds_are_remembered_across_restarts(path: Path) -> None:
    store = await loaded(path)
    assert len(store) == 0
    store.add(loc(900_000_000_000_000_001, "aaaa0001"))
    store.add(loc(900_000_000_000_000_002, "bbbb0002", channel=OTHER_CHANNEL))
    store.add(loc(900_000_000_000_000_003, "aaaa0001", guild=OTHER_GUILD, channel=555))
    await store.save()

    again = await loaded(path)
    assert again.all() == store.all()
    assert len(again) == 3
    assert again.get(900_000_000_000_000_002) == loc(
        900_000_000_000_000_002, "bbbb0002", channel=OTHER_CHANNEL
    )
    assert again.find(STATUS_CHANNEL, "aaaa0001") == loc(900_000_000_000_000_001, "aaaa0001")
    assert [x.message_id for x in again.for_server("aaaa0001")] == [
        900_000_000_000_000_001,
        900_000_000_000_000_003,
    ]
    assert [x.message_id for x in again.for_guild(OTHER_GUILD)] == [900_000_000_000_000_003]


async def test_file_is_versioned_json_with_ids_as_strings(path: Path) -> None:
    store = await loaded(path)
    store.add(loc(900_000_000_000_000_001))
    await store.save()
    assert json.loads(read(path)) == {
        "version": 1,
        "locations": {
            "900000000000000001": {
                "guild_id": str(GUILD),
                "channel_id": str(STATUS_CHANNEL),
                "server_id": "1a2b3c4d",
            }
        },
    }


async def test_old_flat_file_of_the_original_bot_is_read(path: Path) -> None:
    write(
        path,
        json.dumps(
            {
                "1a2b3c4d": {"channel_id": "333", "message_id": "901"},
                "5e6f7a8b": {"channel_id": 333, "message_id": 902},
            }
        ),
    )
    store = await loaded(path)
    assert store.all() == [
        EmbedLocation(message_id=901, guild_id=0, channel_id=333, server_id="1a2b3c4d"),
        EmbedLocation(message_id=902, guild_id=0, channel_id=333, server_id="5e6f7a8b"),
    ]


async def test_second_embed_for_a_server_in_a_channel_replaces_the_first(path: Path) -> None:
    store = await loaded(path)
    first = loc(901)
    assert store.add(first) is None
    assert store.add(loc(902, channel=OTHER_CHANNEL)) is None  # another channel: both stay
    assert store.add(loc(903)) == first  # the caller deletes message 901
    assert store.get(901) is None
    assert store.find(STATUS_CHANNEL, "1a2b3c4d") == loc(903)
    assert len(store) == 2
    assert store.add(loc(903)) is None  # re-recording the same message replaces nothing


async def test_remove_forgets_the_embed_and_returns_it(path: Path) -> None:
    store = await loaded(path)
    store.add(loc(901))
    assert store.remove(901) == loc(901)
    assert store.remove(901) is None
    assert store.find(STATUS_CHANNEL, "1a2b3c4d") is None
    await store.save()
    assert len(await loaded(path)) == 0


async def test_corrupt_file_is_moved_aside_and_logged(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(path, b'{"version": 1, "locations": {"901": {"guild_id": "1", "chan')
    clock = FakeClock(start=1_700_000_000.0)
    with caplog.at_level(logging.WARNING, logger="pterodisbot.bot.locations"):
        store = await loaded(path, clock)
    aside = path.with_name("embed_locations.json.corrupt-20231114T221320Z")
    assert len(store) == 0
    assert not exists(path)
    assert read(aside).startswith(b'{"version": 1')
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert str(aside) in warnings[0].getMessage()

    store.add(loc(905))
    await store.save()
    assert (await loaded(path)).all() == [loc(905)]
    assert read(aside).startswith(b'{"version": 1')  # the operator's copy is untouched


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe not utf-8",
        b"[]",
        b'{"version": 1, "locations": []}',
        b'{"version": 2, "locations": {}}',
        entry("abc"),
        entry("9", guild=True),
        entry("9", channel=2**64),
        entry("9", server=""),
        entry("9", server=None),
        b'{"1a2b3c4d": {"channel_id": "333"}}',
        b'{"1a2b3c4d": "333"}',
    ],
)
async def test_file_of_the_wrong_shape_is_never_emptied_in_place(
    path: Path, content: bytes
) -> None:
    write(path, content)
    store = await loaded(path, FakeClock())
    assert len(store) == 0
    [aside] = listing(path.parent, "embed_locations.json.corrupt-*")
    assert read(aside) == content


async def test_two_corrupt_loads_in_one_second_keep_both_copies(path: Path) -> None:
    clock = FakeClock()
    for content in (b"first", b"second"):
        write(path, content)
        await loaded(path, clock)
    copies = sorted(read(p) for p in listing(path.parent, "embed_locations.json.corrupt-*"))
    assert copies == [b"first", b"second"]


async def test_unreadable_path_raises_instead_of_starting_empty(path: Path) -> None:
    write(path / "oops.json", b"{}")  # a directory where the file should be
    with pytest.raises(EmbedLocationsError) as raised:
        await loaded(path)
    assert raised.value.reason is LocationsFailure.IS_DIRECTORY
    text = str(raised.value)
    assert "\n" not in text
    assert f"Embed locations file {path} is a directory, not a file" in text
    assert "discord.locations_file" in text
    assert [p.name for p in listing(path)] == ["oops.json"]


async def test_path_under_a_file_raises_naming_the_path_and_the_fix(path: Path) -> None:
    # Tests run as root, whom chmod 000 does not stop: a file where a folder should be does.
    write(path.parent, b"not a folder")
    with pytest.raises(EmbedLocationsError) as raised:
        await loaded(path)
    assert raised.value.reason is LocationsFailure.PARENT_NOT_DIRECTORY
    assert str(raised.value).startswith(f"Embed locations file {path} cannot be read: a part of")
    assert read(path.parent) == b"not a folder"


async def test_one_bad_entry_is_set_aside_and_the_good_ones_are_kept(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = {"guild_id": "1", "channel_id": "2", "server_id": "aaaa0001"}
    content = json.dumps(
        {
            "version": 1,
            "locations": {
                "901": good,
                "902": {"guild_id": "1", "channel_id": "oops", "server_id": "bbbb0002"},
                "903": {**good, "server_id": "cccc0003"},
            },
        }
    ).encode()
    write(path, content)
    with caplog.at_level(logging.WARNING, logger="pterodisbot.bot.locations"):
        store = await loaded(path, FakeClock(start=1_700_000_000.0))

    assert [(m.message_id, m.server_id) for m in store.all()] == [
        (901, "aaaa0001"),
        (903, "cccc0003"),
    ]
    aside = path.with_name("embed_locations.json.corrupt-20231114T221320Z")
    assert read(aside) == content
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "locations['902'].channel_id is 'oops'" in warning
    assert str(aside) in warning
    # The next save writes the good entries only; the operator's copy stays as it was.
    assert store.dirty
    await store.save()
    assert sorted(json.loads(read(path))["locations"]) == ["901", "903"]
    assert read(aside) == content


async def test_two_entries_for_one_server_and_channel_keep_the_newer(path: Path) -> None:
    body = {"guild_id": "1", "channel_id": "2", "server_id": "aaaa0001"}
    write(path, json.dumps({"version": 1, "locations": {"901": body, "905": body}}))
    store = await loaded(path, FakeClock())
    assert [m.message_id for m in store.all()] == [905]
    assert len(listing(path.parent, "embed_locations.json.corrupt-*")) == 1


async def test_temporary_file_left_by_a_killed_save_is_removed_on_load(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await loaded(path)
    store.add(loc(901))
    await store.save()
    leftover = path.with_name(".embed_locations.json.k1ll3d.tmp")
    write(leftover, b'{"version": 1, "loc')
    unrelated = path.with_name("notes.tmp")
    write(unrelated, b"mine")
    with caplog.at_level(logging.INFO, logger="pterodisbot.bot.locations"):
        again = await loaded(path)
    assert again.all() == [loc(901)]
    assert not exists(leftover)
    assert read(unrelated) == b"mine"
    assert any(
        f"removed {leftover}, left by an interrupted save" in r.getMessage() for r in caplog.records
    )


async def test_pending_posts_survive_a_restart_and_end_with_the_post(path: Path) -> None:
    store = await loaded(path)
    first = PendingPost(
        guild_id=GUILD, channel_id=STATUS_CHANNEL, server_id="aaaa0001", started=5.0
    )
    second = PendingPost(
        guild_id=GUILD, channel_id=OTHER_CHANNEL, server_id="bbbb0002", started=4.0
    )
    store.begin_post(first)
    store.begin_post(second)
    await store.save()

    again = await loaded(path)
    assert again.pending() == [second, first]
    again.end_post(second)
    again.add(loc(901, "aaaa0001"))
    again.end_post(first)
    await again.save()
    # Nothing pending: the file is exactly what a bot without pending posts writes.
    assert set(json.loads(read(path))) == {"version", "locations"}
    assert (await loaded(path)).pending() == []


async def test_a_bad_pending_entry_is_left_out_and_the_locations_kept(path: Path) -> None:
    body = {"guild_id": "1", "channel_id": "2", "server_id": "aaaa0001"}
    pending = [{**body, "started": "yesterday"}, {**body, "started": 12.5}]
    write(path, json.dumps({"version": 1, "locations": {"901": body}, "pending": pending}))
    store = await loaded(path, FakeClock())
    assert [m.message_id for m in store.all()] == [901]
    assert store.pending() == [PendingPost(1, 2, "aaaa0001", 12.5)]


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277])
async def test_the_file_is_created_0600_in_folders_created_0700(tmp_path: Path, umask: int) -> None:
    operators = tmp_path / "data"
    operators.mkdir()
    operators.chmod(0o755)
    path = operators / "state" / "embed" / "embed_locations.json"
    store = await loaded(path)
    store.add(loc(901))
    previous = os.umask(umask)
    try:
        await store.save()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path.parent.parent).st_mode) == 0o700
    # A folder the bot did not create keeps the operator's mode.
    assert stat.S_IMODE(os.stat(operators).st_mode) == 0o755


async def test_missing_directory_is_created_on_first_save(path: Path) -> None:
    store = await loaded(path)
    assert not exists(path.parent)
    store.add(loc(901))
    await store.save()
    assert (await loaded(path)).all() == [loc(901)]
    assert [p.name for p in listing(path.parent)] == ["embed_locations.json"]


async def test_save_keeps_the_files_permissions(path: Path) -> None:
    store = await loaded(path)
    store.add(loc(901))
    await store.save()
    await asyncio.to_thread(path.chmod, 0o640)
    store.add(loc(902, "bbbb0002"))
    await store.save()
    assert (await asyncio.to_thread(path.stat)).st_mode & 0o777 == 0o640


def test_failed_write_leaves_the_old_file_intact(path: Path) -> None:
    """Save under a small file-size limit: the write fails half-way, like on a full disk."""
    script = textwrap.dedent(
        """
        import asyncio, errno, json, resource, signal, sys
        from pathlib import Path
        from pterodisbot.bot.locations import EmbedLocation, EmbedLocations

        async def main(path):
            old = path.read_bytes()
            store = EmbedLocations(path)
            await store.load()
            for i in range(200):
                store.add(EmbedLocation(10**17 + i, 1, 2, f"srv{i:05d}"))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of dying
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
            try:
                await store.save()
            except OSError as exc:
                print("failed", errno.errorcode[exc.errno], "dirty" if store.dirty else "clean")
            else:
                print("saved despite the limit")
            print("intact" if path.read_bytes() == old else "damaged")
            print(*sorted(p.name for p in path.parent.iterdir()))
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            await store.save()
            print("retried", len(json.loads(path.read_bytes())["locations"]))

        asyncio.run(main(Path(sys.argv[1])))
        """
    )
    write(path, entry("7"))
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "failed EFBIG dirty",
        "intact",
        "embed_locations.json",  # the half-written temporary file is gone
        "retried 201",  # once there is room again, the next save writes everything
    ]


async def test_a_burst_of_saves_coalesces_and_the_newest_state_wins(path: Path) -> None:
    store = await loaded(path)
    for i in range(20):
        store.add(loc(1000 + i, f"srv{i:05d}"))
    await asyncio.gather(*(store.save() for _ in range(30)))
    assert store.writes == 1
    assert len(await loaded(path)) == 20

    # A change made while a write is in flight is written by the next save, never lost or reordered.
    first = asyncio.create_task(store.save())
    store.add(loc(2000, "late0001"))
    await asyncio.sleep(0)  # the first save is now writing in its thread
    store.add(loc(2001, "late0002"))
    store.remove(1000)
    second = asyncio.create_task(store.save())
    third = asyncio.create_task(store.save())
    await asyncio.gather(first, second, third)
    on_disk = await loaded(path)
    assert on_disk.all() == store.all()
    assert on_disk.get(2001) is not None
    assert on_disk.get(1000) is None
    assert not store.dirty
    assert store.writes == 3  # the third save found the second had already written its state


async def test_saving_without_changes_writes_nothing(path: Path) -> None:
    store = await loaded(path)
    await store.save()
    assert store.writes == 0
    assert not exists(path)
