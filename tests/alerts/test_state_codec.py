"""The alerts' persisted state as text: every field reads back exactly, bad parts are dropped."""

from __future__ import annotations

import json
import logging

import pytest

from pterodisbot.alerts import (
    ALL_SERVERS,
    AlertServer,
    AlertState,
    AlertStateError,
    AlertStateFailure,
    Incident,
    MessageRef,
    Mute,
    Rule,
    decode_state,
    encode_state,
)

CRASH = Incident(
    id="crash-aaaa0001-1",
    rule=Rule.CRASH_LOOP,
    subject="aaaa0001",
    servers=(AlertServer("aaaa0001", "Survival-1", "node-1"),),
    started_at=1_700_000_000.125,
    fired_at=1_700_000_010.5,
    updated_at=1_700_000_042.75,
    count=4,
    peak=97.33333333333333,
    detail="stopped by alice",
    resolved_at=1_700_000_900.0,
    muted=True,
    announced_at=1_700_000_011.0,
)
NODE = Incident(
    id="node_down-node-2-7",
    rule=Rule.NODE_DOWN,
    subject="node-2",
    servers=(
        AlertServer("bbbb0002", "Creative", "node-2"),
        AlertServer("cccc0003", "Skyblock ✨", "node-2"),
    ),
    started_at=1_700_000_100.0,
    fired_at=1_700_000_130.0,
    updated_at=1_700_000_130.0,
)
STATE = AlertState(
    incidents=(CRASH, NODE),
    mutes=(
        Mute("aaaa0001", 1_700_000_000.0, 1_700_003_600.5, "map reset", "owner#0001", 2**62 + 5),
        Mute(ALL_SERVERS, 1_700_000_000.0, 1_700_000_060.0, "", "admin", None),
    ),
    messages={CRASH.id: MessageRef(1_234_567_890_123_456_789, 2**63 - 1)},
    last_status={"aaaa0001": "offline", "bbbb0002": "unknown"},
    saved_at=1_700_000_999.875,
)


def test_every_field_of_the_state_reads_back_exactly() -> None:
    text = encode_state(STATE)

    assert decode_state(text) == STATE
    assert json.loads(text)["version"] == 1


def test_discord_ids_are_written_as_strings_and_read_in_either_form() -> None:
    document = json.loads(encode_state(STATE))
    assert document["messages"][CRASH.id] == {
        "channel_id": "1234567890123456789",
        "message_id": str(2**63 - 1),
    }
    document["messages"][CRASH.id] = {"channel_id": 5, "message_id": 6}

    decoded = decode_state(json.dumps(document))

    assert decoded.messages == {CRASH.id: MessageRef(5, 6)}


def test_an_empty_state_reads_back_empty() -> None:
    assert decode_state(encode_state(AlertState())) == AlertState()


def test_a_bad_entry_is_dropped_and_named_the_rest_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = json.loads(encode_state(STATE))
    document["incidents"][0]["rule"] = "meteor_strike"
    document["mutes"][1]["until"] = "soon"
    document["messages"]["other"] = {"channel_id": "x"}
    document["last_status"]["dddd0004"] = 3

    with caplog.at_level(logging.WARNING, logger="pterodisbot.alerts"):
        decoded = decode_state(json.dumps(document), where="/data/alerts.json")

    assert decoded.incidents == (NODE,)
    assert decoded.mutes == STATE.mutes[:1]
    assert decoded.messages == STATE.messages
    assert decoded.last_status == STATE.last_status
    assert [r.getMessage() for r in caplog.records] == [
        "/data/alerts.json: incidents[0]: rule 'meteor_strike' is not one this version knows; "
        "left out, the rest is kept",
        "/data/alerts.json: mutes[1]: until should be a number of seconds; left out, the rest "
        "is kept",
        "/data/alerts.json: messages['other']: channel_id should be a Discord id; left out, the "
        "rest is kept",
        "/data/alerts.json: last_status['dddd0004']: should be a status name (a string); left "
        "out, the rest is kept",
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("servers", [{"identifier": "x", "name": "X"}]),
        ("count", 0),
        ("started_at", None),
        ("muted", "yes"),
        ("peak", "high"),
        ("id", ""),
    ],
)
def test_an_incident_with_a_broken_field_is_dropped(field: str, value: object) -> None:
    document = json.loads(encode_state(STATE))
    document["incidents"][1][field] = value

    assert decode_state(json.dumps(document)).incidents == (CRASH,)


@pytest.mark.parametrize(
    ("text", "reason", "words"),
    [
        ("{not json", AlertStateFailure.NOT_JSON, "is not JSON"),
        ("[1, 2]", AlertStateFailure.NOT_A_STATE, "is not an alerts state"),
        ('{"incidents": []}', AlertStateFailure.NOT_A_STATE, "is not an alerts state"),
        ('{"version": 2}', AlertStateFailure.NEWER_VERSION, "upgrade the bot"),
    ],
)
def test_text_that_is_not_a_state_this_version_reads_is_refused_naming_where_and_the_fix(
    text: str, reason: AlertStateFailure, words: str
) -> None:
    with pytest.raises(AlertStateError) as caught:
        decode_state(text, where="/data/alerts.json")

    assert caught.value.reason is reason
    assert str(caught.value).startswith("/data/alerts.json ")
    assert words in str(caught.value)
