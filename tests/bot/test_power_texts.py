"""What the user reads after a click: every panel error in words, no traceback, no secrets."""

from __future__ import annotations

import pytest

from pterodisbot.bot.cogs.power import (
    address_text,
    failure_text,
    kill_refusal,
    progress_text,
    redundant_text,
    settled_by,
    settling_text,
    stopped_text,
    success_text,
)
from pterodisbot.bot.views import ButtonAction
from pterodisbot.monitor import ServerStatus
from pterodisbot.panel.errors import (
    AuthFailure,
    ConflictReason,
    PanelAuthError,
    PanelBadResponse,
    PanelConflict,
    PanelError,
    PanelInvalidRequest,
    PanelNotFound,
    PanelRateLimited,
    PanelUnavailable,
    UnavailableReason,
)
from pterodisbot.panel.models import Allocation, PowerState
from tests.snapshots import make_server

NAME = "Survival-1"


def conflict(reason: ConflictReason, detail: str) -> PanelConflict:
    return PanelConflict(
        "internal diagnostic", reason=reason, status=409, detail=detail, server_id="1a2b3c4d"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            conflict(
                ConflictReason.INSTALLING,
                "This server has not yet completed its installation process, please try.",
            ),
            "**Survival-1** is still installing. The panel will not restart it",
        ),
        (
            conflict(
                ConflictReason.SUSPENDED,
                "This server is currently suspended and the functionality is unavailable.",
            ),
            "**Survival-1** is suspended on the panel",
        ),
        (
            conflict(
                ConflictReason.TRANSFERRING,
                "This server is currently being transferred to a new machine.",
            ),
            "is being moved to another node",
        ),
        (
            conflict(ConflictReason.RESTORING_BACKUP, "restoring from a backup"),
            "is restoring a backup",
        ),
        (
            conflict(
                ConflictReason.NODE_MAINTENANCE, "The node of this server is under maintenance"
            ),
            "under maintenance",
        ),
        (
            conflict(ConflictReason.OTHER, ""),
            "The panel says **Survival-1** cannot restart right now",
        ),
        # The reason decides, not the words: the client has read them once already.
        (
            conflict(ConflictReason.OTHER, "This backup is locked; the server was suspended."),
            "The panel says **Survival-1** cannot restart right now",
        ),
        (
            PanelAuthError("internal diagnostic", reason=AuthFailure.FORBIDDEN, status=403),
            "The panel refused: the API key lacks control permission on **Survival-1**",
        ),
        (
            PanelAuthError("internal diagnostic", reason=AuthFailure.BAD_KEY, status=401),
            "The panel refused the bot's API key",
        ),
        (
            PanelRateLimited("internal diagnostic", retry_after=11.2, status=429),
            "The panel is busy; try again in 12 s. Nothing was sent.",
        ),
        (
            PanelUnavailable("internal diagnostic", reason=UnavailableReason.NODE_DOWN, status=504),
            "The panel cannot reach the node that runs **Survival-1**, so nothing happened",
        ),
        (
            PanelUnavailable("internal diagnostic", reason=UnavailableReason.TIMEOUT),
            "The panel did not answer within 10 s. The restart may still happen",
        ),
        (
            PanelUnavailable(
                "internal diagnostic", reason=UnavailableReason.SERVER_ERROR, status=503
            ),
            "The panel failed (503) and did not confirm the restart of **Survival-1**",
        ),
        (
            PanelUnavailable("internal diagnostic", reason=UnavailableReason.CONNECTION),
            "The connection to the panel failed; the restart of **Survival-1** may not",
        ),
        (
            PanelUnavailable("internal diagnostic", reason=UnavailableReason.TLS),
            "cannot connect securely to the panel",
        ),
        (
            PanelNotFound("internal diagnostic", status=404),
            "The panel no longer has **Survival-1**",
        ),
        (
            PanelInvalidRequest("internal diagnostic", status=422),
            "rejected the restart request as invalid",
        ),
        (PanelBadResponse("internal diagnostic", status=200), "may not have happened"),
        (PanelError("internal diagnostic", status=418), "The panel answered with an error (418)"),
    ],
)
def test_every_panel_error_reads_as_a_sentence(error: PanelError, expected: str) -> None:
    text = failure_text(error, ButtonAction.RESTART, NAME, timeout=10)
    assert expected in text
    assert "Traceback" not in text
    # The log gets the technical message; the user gets a sentence, never a class name.
    assert "internal diagnostic" not in text
    assert type(error).__name__ not in text


def test_progress_and_success_say_what_happens() -> None:
    assert progress_text(ButtonAction.RESTART, NAME) == "Restarting **Survival-1**…"
    assert progress_text(ButtonAction.KILL, "a_b") == "Killing **a\\_b**…"
    assert "is starting" in success_text(ButtonAction.START, NAME)
    assert "stopped its process at once" in success_text(ButtonAction.KILL, NAME)


@pytest.mark.parametrize(
    ("action", "status", "pointless"),
    [
        (ButtonAction.START, ServerStatus.RUNNING, True),
        (ButtonAction.START, ServerStatus.STARTING, True),
        (ButtonAction.START, ServerStatus.OFFLINE, False),
        (ButtonAction.STOP, ServerStatus.OFFLINE, True),
        (ButtonAction.STOP, ServerStatus.RUNNING, False),
        (ButtonAction.RESTART, ServerStatus.STOPPING, True),
        (ButtonAction.KILL, ServerStatus.OFFLINE, True),
        (ButtonAction.KILL, ServerStatus.STOPPING, False),
        (ButtonAction.START, ServerStatus.INSTALLING, False),  # the panel's 409 says it better
    ],
)
def test_pointless_actions_are_not_sent(
    action: ButtonAction, status: ServerStatus, pointless: bool
) -> None:
    assert (redundant_text(action, status, NAME) is not None) is pointless


def test_address_lists_primary_first_and_flags_unroutable_ips() -> None:
    server = make_server(
        allocations=(
            Allocation(1, "10.0.0.5", "mc.example.com", 25565, None, True),
            Allocation(2, "0.0.0.0", None, 25575, "RCON", False),
        )
    )
    assert address_text(server).splitlines() == [
        "Connect to **Survival SMP** with:",
        "`mc.example.com:25565` (primary)",
        "`port 25575 (no public address set in the panel)` — RCON",
    ]
    assert "no address" in address_text(make_server(allocations=()))


S, T, R, K = ButtonAction.START, ButtonAction.STOP, ButtonAction.RESTART, ButtonAction.KILL


@pytest.mark.parametrize(
    ("previous", "action", "settled"),
    [
        (R, R, True),
        (T, T, True),
        (K, T, True),
        (S, S, True),
        (R, S, True),
        (K, K, True),
        (T, K, False),  # a kill during a stop is what the Kill button is for
        (R, T, False),
        (T, S, False),
        (S, R, False),
        (T, R, False),
    ],
)
def test_an_action_already_done_by_the_last_signal_is_not_sent_again(
    previous: ButtonAction, action: ButtonAction, settled: bool
) -> None:
    assert settled_by(previous, action) is settled


def test_settling_names_who_asked_and_when() -> None:
    assert settling_text(R, "op_1", 3.7, NAME) == (
        "**Survival-1** is already restarting (asked by op\\_1 3 s ago). Nothing more was sent: "
        "the status embed follows it."
    )
    assert settling_text(K, "op", 1, NAME).startswith("**Survival-1** was just killed (asked by")


@pytest.mark.parametrize(
    ("state", "sent"),
    [
        (PowerState.STOPPING, True),
        (PowerState.STARTING, True),  # a start that hangs
        (PowerState.RUNNING, False),
        (PowerState.OFFLINE, False),
    ],
)
def test_a_kill_is_sent_only_to_a_server_really_stopping_or_starting(
    state: PowerState, sent: bool
) -> None:
    assert (kill_refusal(state, NAME) is None) is sent


def test_a_click_cut_short_by_a_shutdown_says_to_check_the_server() -> None:
    text = stopped_text(ButtonAction.RESTART, NAME)
    assert text.startswith("The bot was stopped before the panel answered")
    assert "whether the restart of **Survival-1** happened is unknown" in text
