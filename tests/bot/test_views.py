"""Status embed buttons: custom ids, which buttons show and which are enabled (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

import discord
import pytest

from pterodisbot.bot.views import (
    CUSTOM_ID_LIMIT,
    ButtonAction,
    ButtonRef,
    InvalidCustomId,
    ServerButton,
    StatusViews,
    Step,
    build_confirm_view,
    build_status_view,
    parse_custom_id,
)
from pterodisbot.monitor import ServerStatus
from pterodisbot_sandbox.discord_rules import validate_message_payload
from tests.snapshots import T0, make_server, make_snapshot

UUID = "0f6c3a9e-1b2d-4c5e-8f90-123456789abc"


def rows(view: discord.ui.View) -> list[dict[str, Any]]:
    """Return the view as Discord receives it."""
    return view.to_components()  # type: ignore[return-value]


def shown(view: discord.ui.View) -> dict[str, bool]:
    """Return label -> enabled for every button of the view."""
    return {
        button["label"]: not button.get("disabled", False)
        for row in rows(view)
        for button in row["components"]
    }


@pytest.mark.parametrize(
    "ref",
    [
        ButtonRef(ButtonAction.RESTART, "1a2b3c4d"),
        ButtonRef(ButtonAction.KILL, UUID, Step.CONFIRM),
        ButtonRef(ButtonAction.STOP, "1a2b3c4d", Step.CANCEL),
        ButtonRef(ButtonAction.ADDRESS, UUID),
    ],
)
def test_custom_id_round_trips_and_stays_short(ref: ButtonRef) -> None:
    assert parse_custom_id(ref.custom_id) == ref
    assert len(ref.custom_id) < CUSTOM_ID_LIMIT
    assert ref.custom_id.startswith("pdb:")


def test_custom_id_format_is_the_documented_one() -> None:
    assert ButtonRef(ButtonAction.START, "1a2b3c4d").custom_id == "pdb:start:1a2b3c4d"
    assert ButtonRef(ButtonAction.STOP, "1a2b3c4d", Step.CONFIRM).custom_id == (
        "pdb:stop:1a2b3c4d:yes"
    )


@pytest.mark.parametrize(
    ("custom_id", "why"),
    [
        ("pdb:restart", "not pdb:"),
        ("pdb:explode:1a2b3c4d", "unknown action"),
        ("pdb:restart:../../etc", "malformed server"),
        ("pdb:restart:1a2b3c4d:maybe", "unknown step"),
        ("pdb:address:1a2b3c4d:yes", "only power actions"),
        ("pdb:restart:1a2b3c4d:yes:again", "not pdb:"),
        ("xyz:restart:1a2b3c4d", "not pdb:"),
        ("pdb:restart:" + "a" * 95, "longer than"),
    ],
)
def test_forged_custom_ids_are_rejected_with_a_reason(custom_id: str, why: str) -> None:
    with pytest.raises(InvalidCustomId, match=why):
        parse_custom_id(custom_id)


def test_one_template_catches_every_pdb_id_so_forgeries_get_an_answer() -> None:
    template = ServerButton.__discord_ui_compiled_template__
    assert template.fullmatch("pdb:explode:zz")
    assert template.fullmatch("pdb:")
    assert not template.fullmatch("other:restart:1a2b3c4d")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            ServerStatus.RUNNING,
            {"Start": False, "Stop": True, "Restart": True, "Show Address": True, "History": True},
        ),
        (
            ServerStatus.OFFLINE,
            {"Start": True, "Stop": False, "Restart": True, "Show Address": True, "History": True},
        ),
        (
            ServerStatus.STARTING,
            {"Start": False, "Stop": True, "Restart": True, "Show Address": True, "History": True},
        ),
        (
            ServerStatus.STOPPING,
            {
                "Start": False,
                "Stop": False,
                "Restart": False,
                "Kill": True,
                "Show Address": True,
                "History": True,
            },
        ),
        (
            ServerStatus.INSTALLING,
            {
                "Start": False,
                "Stop": False,
                "Restart": False,
                "Show Address": True,
                "History": True,
            },
        ),
        (
            ServerStatus.SUSPENDED,
            {
                "Start": False,
                "Stop": False,
                "Restart": False,
                "Show Address": True,
                "History": True,
            },
        ),
        (
            # The panel could not say how the server is: it could not carry out a signal either.
            ServerStatus.UNKNOWN,
            {
                "Start": False,
                "Stop": False,
                "Restart": False,
                "Show Address": True,
                "History": True,
            },
        ),
    ],
)
def test_buttons_that_make_no_sense_now_are_disabled(
    status: ServerStatus, expected: dict[str, bool]
) -> None:
    view = build_status_view(
        make_snapshot(status, with_resources=status is not ServerStatus.UNKNOWN)
    )
    assert shown(view) == expected


def test_buttons_have_the_colours_of_their_actions() -> None:
    view = build_status_view(make_snapshot(ServerStatus.STOPPING))
    styles = {b["label"]: b["style"] for row in rows(view) for b in row["components"]}
    assert styles == {
        "Start": discord.ButtonStyle.success.value,
        "Stop": discord.ButtonStyle.danger.value,
        "Restart": discord.ButtonStyle.primary.value,
        "Kill": discord.ButtonStyle.danger.value,
        "Show Address": discord.ButtonStyle.secondary.value,
        "History": discord.ButtonStyle.secondary.value,
    }


def test_server_without_allocations_has_no_address_button() -> None:
    snap = make_snapshot(server=make_server(allocations=()))
    assert "Show Address" not in shown(build_status_view(snap))


def test_view_is_persistent_and_valid_for_discord() -> None:
    view = build_status_view(make_snapshot(ServerStatus.STOPPING))
    assert view.timeout is None
    assert view.is_persistent()
    payload = {"embeds": [], "content": "x", "components": rows(view)}
    assert validate_message_payload(payload, attachment_filenames=()) is None
    confirm = build_confirm_view(ButtonAction.RESTART, "1a2b3c4d")
    labels = [(b["label"], b["custom_id"]) for row in rows(confirm) for b in row["components"]]
    assert labels == [
        ("Yes, restart", "pdb:restart:1a2b3c4d:yes"),
        ("Cancel", "pdb:restart:1a2b3c4d:no"),
    ]


def test_a_start_that_hangs_gets_a_kill_button() -> None:
    views = StatusViews(hung_after=120)
    starting = make_snapshot(ServerStatus.STARTING, t=T0)
    views.observe(starting, None)
    assert "Kill" not in shown(views(starting))

    still = dataclasses.replace(starting, t=T0 + 119)
    views.observe(still, starting)
    assert "Kill" not in shown(views(still))

    hung = dataclasses.replace(starting, t=T0 + 121)
    views.observe(hung, still)
    assert shown(views(hung))["Kill"] is True

    running = make_snapshot(ServerStatus.RUNNING, t=T0 + 122)
    views.observe(running, hung)
    assert "Kill" not in shown(views(running))


@pytest.mark.parametrize("status", list(ServerStatus))
def test_every_status_embed_has_an_enabled_history_button(status: ServerStatus) -> None:
    view = build_status_view(
        make_snapshot(status, with_resources=status is not ServerStatus.UNKNOWN)
    )
    ids = {b["label"]: b["custom_id"] for row in rows(view) for b in row["components"]}
    assert ids["History"] == "pdb:history:1a2b3c4d"
    assert shown(view)["History"] is True


def test_six_buttons_take_two_rows_of_at_most_five() -> None:
    # Stopping shows Kill; with Show Address and History that is six buttons.
    view = build_status_view(make_snapshot(ServerStatus.STOPPING))
    labels = [[b["label"] for b in row["components"]] for row in rows(view)]
    assert labels == [["Start", "Stop", "Restart", "Kill", "Show Address"], ["History"]]
    running = build_status_view(make_snapshot(ServerStatus.RUNNING))
    assert [len(row["components"]) for row in rows(running)] == [5]


def test_history_custom_id_parses_and_has_no_confirm_step() -> None:
    assert parse_custom_id("pdb:history:1a2b3c4d") == ButtonRef(ButtonAction.HISTORY, "1a2b3c4d")
    with pytest.raises(InvalidCustomId, match="only power actions"):
        parse_custom_id("pdb:history:1a2b3c4d:yes")


def test_without_history_there_is_no_history_button() -> None:
    views = StatusViews(history=False)
    view = views(make_snapshot(ServerStatus.STOPPING))
    assert "History" not in shown(view)
    assert [len(row["components"]) for row in rows(view)] == [5]
