"""Discord's payload rules: each limit holds exactly at the boundary and fails one past it."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping
from typing import Any

import discord
import pytest
from discord import app_commands, ui
from discord.http import handle_message_parameters
from discord.webhook.async_ import interaction_message_response_params

from pterodisbot_sandbox import discord_rules as rules

# --- helpers -------------------------------------------------------------------------------------


def codes_at(errors: Mapping[str, Any] | None, *path: str | int) -> list[str]:
    """Return the error codes Discord's nested `errors` object holds at `path`."""
    assert errors is not None, "expected the payload to be refused"
    node: Any = errors
    for part in path:
        assert str(part) in node, f"no errors at {path!r}: {json.dumps(errors)}"
        node = node[str(part)]
    return [entry["code"] for entry in node.get("_errors", [])]


def message(payload: Mapping[str, Any], files: tuple[str, ...] = ()) -> dict[str, Any] | None:
    return rules.validate_message_payload(payload, attachment_filenames=files)


def embed_message(**embed: Any) -> dict[str, Any]:
    return {"embeds": [{"type": "rich", **embed}]}


def button(custom_id: str = "b", **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": "Go", "custom_id": custom_id, **extra}


def row(*components: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def string_select(count: int = 1, **extra: Any) -> dict[str, Any]:
    generated = [{"label": f"L{i}", "value": f"v{i}"} for i in range(count)]
    return {"type": 3, "custom_id": "pick", "options": generated, **extra}


def components(*rows: Mapping[str, Any]) -> dict[str, Any]:
    return {"components": list(rows)}


def callback(kind: int, data: Any = None) -> dict[str, Any] | None:
    payload: dict[str, Any] = {"type": kind}
    if data is not None:
        payload["data"] = data
    return rules.validate_interaction_callback(payload)


def modal(*rows: Mapping[str, Any], custom_id: str = "m", title: str = "Title") -> dict[str, Any]:
    return {"custom_id": custom_id, "title": title, "components": list(rows)}


def text_input(custom_id: str = "t", **extra: Any) -> dict[str, Any]:
    return {"type": 4, "custom_id": custom_id, "style": 1, "label": "Name", **extra}


def command(name: str = "status", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "Show it", "type": 1, **extra}


def option(name: str = "server", **extra: Any) -> dict[str, Any]:
    return {"type": 3, "name": name, "description": "Which one", **extra}


def commands(*items: Mapping[str, Any]) -> dict[str, Any] | None:
    return rules.validate_application_commands(list(items))


# --- real shapes from discord.py 2.7.1 -----------------------------------------------------------


def _status_view() -> ui.View:
    view = ui.View(timeout=None)
    for label, style in (("Start", 3), ("Stop", 4), ("Restart", 1), ("Kill", 4)):
        view.add_item(
            ui.Button(label=label, style=discord.ButtonStyle(style), custom_id=f"power:{label}:ab")
        )
    view.add_item(ui.Button(label="Panel", url="https://panel.example.com/server/abcd1234"))
    view.add_item(
        ui.Select(
            custom_id="server-pick",
            placeholder="Pick a server",
            options=[discord.SelectOption(label=f"Server {i}", value=str(i)) for i in range(25)],
        )
    )
    view.add_item(ui.Button(emoji="🔁", custom_id="refresh"))
    return view


def _status_embed() -> discord.Embed:
    embed = discord.Embed(
        title="Minecraft SMP",
        description="**Running** on node-1",
        colour=0x2ECC71,
        url="https://panel.example.com/server/abcd1234",
        timestamp=dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC),
    )
    embed.add_field(name="CPU", value="42.0 % of 200 %", inline=True)
    embed.add_field(name="Memory", value="1.2 GiB / 4 GiB", inline=True)
    embed.set_footer(text="Updated", icon_url="https://panel.example.com/favicon.png")
    embed.set_author(name="Pterodisbot", icon_url="attachment://graph.png")
    embed.set_image(url="attachment://graph.png")
    embed.set_thumbnail(url="https://cdn.example.com/egg.png")
    return embed


def test_a_discord_py_status_message_with_graph_and_buttons_is_accepted() -> None:
    params = handle_message_parameters(
        content="Status",
        embed=_status_embed(),
        file=discord.File(io.BytesIO(b"\x89PNG"), filename="graph.png", description="CPU graph"),
        view=_status_view(),
        allowed_mentions=discord.AllowedMentions.none(),
        nonce=1234567890123,
    )
    payload = json.loads(params.multipart[0]["value"])
    filenames = tuple(file.filename for file in params.files)

    assert message(payload, filenames) is None
    assert rules.check_message(payload, attachment_filenames=filenames) is None


def test_a_discord_py_edit_that_clears_embeds_and_view_is_accepted() -> None:
    params = handle_message_parameters(content=None, embed=None, view=None, attachments=[])

    assert params.payload is not None
    assert message(params.payload) is None
    assert rules.check_message(params.payload, attachment_filenames=(), editing=True) is None


def test_discord_py_allowed_mentions_shapes_are_accepted() -> None:
    for mentions in (
        discord.AllowedMentions.all(),
        discord.AllowedMentions.none(),
        discord.AllowedMentions(users=[discord.Object(1)], roles=False),
    ):
        assert message({"content": "hi", "allowed_mentions": mentions.to_dict()}) is None


def test_a_discord_py_ephemeral_interaction_reply_with_view_is_accepted() -> None:
    params = interaction_message_response_params(
        type=4,
        content="Only you can see this",
        embed=_status_embed(),
        flags=discord.MessageFlags(ephemeral=True),
        view=_status_view(),
        file=discord.File(io.BytesIO(b"\x89PNG"), filename="graph.png"),
    )
    payload = json.loads(params.multipart[0]["value"])

    assert rules.validate_interaction_callback(payload, attachment_filenames=["graph.png"]) is None


def test_a_discord_py_layout_view_is_accepted_with_the_components_v2_flag() -> None:
    class Layout(ui.LayoutView):
        box = ui.Container(
            ui.TextDisplay("# Minecraft SMP"),
            ui.Section(ui.TextDisplay("CPU 42 %"), accessory=ui.Button(label="Go", custom_id="go")),
            ui.Separator(),
            ui.MediaGallery(discord.MediaGalleryItem("attachment://graph.png")),
            accent_colour=0x2ECC71,
        )
        buttons = ui.ActionRow(ui.Button(label="Start", custom_id="start"))

    params = handle_message_parameters(
        view=Layout(), file=discord.File(io.BytesIO(b"\x89PNG"), filename="graph.png")
    )
    payload = json.loads(params.multipart[0]["value"])

    assert payload["flags"] & rules.FLAG_IS_COMPONENTS_V2
    assert message(payload, ("graph.png",)) is None


def test_discord_py_modals_are_accepted_in_both_layouts() -> None:
    class Legacy(ui.Modal, title="Send a console command"):
        cmd = ui.TextInput(label="Command", max_length=200)
        note = ui.TextInput(label="Note", style=discord.TextStyle.long, required=False)

    class Labelled(ui.Modal, title="Send a console command"):
        cmd = ui.Label(text="Command", description="Runs as console", component=ui.TextInput())
        pick = ui.Label(
            text="Server",
            component=ui.Select(options=[discord.SelectOption(label="A", value="a")]),
        )
        warning = ui.TextDisplay("Careful")

    for form in (Legacy(custom_id="cmd"), Labelled(custom_id="cmd2")):
        assert callback(9, form.to_dict()) is None


def test_discord_py_command_tree_payloads_are_accepted() -> None:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)

    @tree.command(name="server_status", description="Post a live status embed")
    async def server_status(interaction: discord.Interaction, server: str, hidden: bool = False):
        """Unused."""

    @server_status.autocomplete("server")
    async def complete(interaction: discord.Interaction, current: str):
        return []

    @tree.command(name="power", description="Send a power signal")
    @app_commands.choices(signal=[app_commands.Choice(name="Start", value="start")])
    async def power(
        interaction: discord.Interaction,
        signal: app_commands.Choice[str],
        times: app_commands.Range[int, 1, 5] = 1,
    ):
        """Unused."""

    alerts = app_commands.Group(name="alerts", description="Alerts")

    @alerts.command(name="add", description="Add an alert")
    async def add(interaction: discord.Interaction, threshold: float):
        """Unused."""

    tree.add_command(alerts)

    @tree.context_menu(name="Show Server")
    async def show(interaction: discord.Interaction, member: discord.Member):
        """Unused."""

    payload = [cmd.to_dict(tree) for cmd in tree.get_commands()]

    assert rules.validate_application_commands(payload) is None


# --- message content and emptiness --------------------------------------------------------------


def test_content_holds_2000_characters_and_refuses_2001() -> None:
    assert message({"content": "x" * 2000}) is None
    assert codes_at(message({"content": "x" * 2001}), "content") == ["BASE_TYPE_MAX_LENGTH"]


def test_content_length_counts_code_points() -> None:
    assert message({"content": "🎮" * 2000}) is None


def test_a_message_with_nothing_to_show_is_refused_with_50006() -> None:
    for payload in ({}, {"content": "   "}, {"content": None, "embeds": [], "components": []}):
        rejection = rules.check_message(payload, attachment_filenames=())
        assert rejection == rules.Rejection(
            400, {"code": 50006, "message": "Cannot send an empty message"}
        )


def test_a_file_alone_or_a_sticker_alone_is_not_an_empty_message() -> None:
    assert not rules.is_empty_message({}, ["graph.png"])
    assert not rules.is_empty_message({"sticker_ids": ["1"]}, ())
    assert not rules.is_empty_message({"components": [row(button())]}, ())
    assert rules.is_empty_message({"content": ""}, ())


def test_an_edit_is_not_checked_for_emptiness() -> None:
    assert rules.check_message({"content": None}, attachment_filenames=(), editing=True) is None


def test_an_invalid_body_is_a_50035_before_it_is_an_empty_message() -> None:
    rejection = rules.check_message({"content": 5}, attachment_filenames=())

    assert rejection is not None
    assert rejection.status == 400
    assert rejection.body["code"] == 50035
    assert rejection.body["message"] == "Invalid Form Body"
    assert codes_at(rejection.body["errors"], "content") == ["BASE_TYPE_BAD_TYPE"]


def test_a_body_that_is_not_an_object_is_refused() -> None:
    errors = rules.validate_message_payload(["content"], attachment_filenames=())  # type: ignore[arg-type]

    assert codes_at(errors) == ["MODEL_TYPE_CONVERT"]


def test_nonce_holds_25_characters_and_refuses_26() -> None:
    assert message({"content": "x", "nonce": "n" * 25}) is None
    assert codes_at(message({"content": "x", "nonce": "n" * 26}), "nonce") == [
        "NONCE_TYPE_TOO_LONG"
    ]
    assert codes_at(message({"content": "x", "nonce": [1]}), "nonce") == ["NONCE_TYPE_INVALID_TYPE"]


def test_flags_must_be_a_non_negative_integer() -> None:
    assert message({"content": "x", "flags": 4}) is None
    assert codes_at(message({"content": "x", "flags": "4"}), "flags") == ["NUMBER_TYPE_COERCE"]
    assert codes_at(message({"content": "x", "flags": True}), "flags") == ["NUMBER_TYPE_COERCE"]
    assert codes_at(message({"content": "x", "flags": -1}), "flags") == ["NUMBER_TYPE_MIN"]


def test_tts_must_be_a_boolean() -> None:
    assert codes_at(message({"content": "x", "tts": "yes"}), "tts") == ["BASE_TYPE_BAD_TYPE"]


# --- allowed mentions and attachments ------------------------------------------------------------


def test_allowed_mentions_parse_accepts_only_known_kinds() -> None:
    errors = message({"content": "x", "allowed_mentions": {"parse": ["users", "here"]}})

    assert codes_at(errors, "allowed_mentions", "parse", 1) == ["BASE_TYPE_CHOICES"]


def test_allowed_mentions_parse_users_and_a_user_list_are_exclusive() -> None:
    errors = message({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}})

    assert codes_at(errors, "allowed_mentions") == ["MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"]


def test_allowed_mentions_hold_100_ids_and_refuse_101() -> None:
    ids = [str(10**17 + i) for i in range(101)]
    assert message({"content": "x", "allowed_mentions": {"roles": ids[:100]}}) is None

    errors = message({"content": "x", "allowed_mentions": {"roles": ids, "users": ["me"]}})
    assert codes_at(errors, "allowed_mentions", "roles") == ["BASE_TYPE_MAX_LENGTH"]
    assert codes_at(errors, "allowed_mentions", "users", 0) == ["NUMBER_TYPE_COERCE"]


def test_allowed_mentions_must_be_an_object() -> None:
    errors = message({"content": "x", "allowed_mentions": "none"})

    assert codes_at(errors, "allowed_mentions") == ["MODEL_TYPE_CONVERT"]


def test_attachment_entries_need_an_id_and_a_short_description() -> None:
    ok = {"attachments": [{"id": 0, "filename": "graph.png", "description": "d" * 1024}]}
    assert message(ok, ("graph.png",)) is None

    errors = message({"attachments": [{"filename": "a.png"}, {"id": 1, "description": "d" * 1025}]})
    assert codes_at(errors, "attachments", 0, "id") == ["BASE_TYPE_REQUIRED"]
    assert codes_at(errors, "attachments", 1, "description") == ["BASE_TYPE_MAX_LENGTH"]


def test_attachments_hold_10_entries_and_refuse_11() -> None:
    entries = [{"id": i, "filename": f"{i}.png"} for i in range(11)]
    assert message({"attachments": entries[:10]}) is None
    assert codes_at(message({"attachments": entries}), "attachments") == ["BASE_TYPE_MAX_LENGTH"]


# --- embeds --------------------------------------------------------------------------------------


def test_a_message_holds_10_embeds_and_refuses_11() -> None:
    assert message({"embeds": [{"title": "t"}] * 10}) is None
    assert codes_at(message({"embeds": [{"title": "t"}] * 11}), "embeds") == [
        "BASE_TYPE_MAX_LENGTH"
    ]


def test_embed_title_holds_256_and_refuses_257() -> None:
    assert message(embed_message(title="t" * 256)) is None
    errors = message(embed_message(title="t" * 257))
    assert errors == {
        "embeds": {
            "0": {
                "title": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": "Must be 256 or fewer in length.",
                        }
                    ]
                }
            }
        }
    }


def test_embed_description_holds_4096_and_refuses_4097() -> None:
    assert message(embed_message(description="d" * 4096)) is None
    assert codes_at(message(embed_message(description="d" * 4097)), "embeds", 0, "description") == [
        "BASE_TYPE_MAX_LENGTH"
    ]


def test_embed_holds_25_fields_and_refuses_26() -> None:
    fields = [{"name": "n", "value": "v"} for _ in range(26)]
    assert message(embed_message(fields=fields[:25])) is None
    assert codes_at(message(embed_message(fields=fields)), "embeds", 0, "fields") == [
        "BASE_TYPE_MAX_LENGTH"
    ]


def test_embed_field_name_holds_256_and_is_required() -> None:
    assert message(embed_message(fields=[{"name": "n" * 256, "value": "v"}])) is None
    errors = message(
        embed_message(
            fields=[{"name": "n" * 257, "value": "v"}, {"name": "", "value": "v"}, {"value": "v"}]
        )
    )
    assert codes_at(errors, "embeds", 0, "fields", 0, "name") == ["BASE_TYPE_MAX_LENGTH"]
    assert codes_at(errors, "embeds", 0, "fields", 1, "name") == ["BASE_TYPE_REQUIRED"]
    assert codes_at(errors, "embeds", 0, "fields", 2, "name") == ["BASE_TYPE_REQUIRED"]


def test_embed_field_value_holds_1024_and_is_required() -> None:
    assert message(embed_message(fields=[{"name": "n", "value": "v" * 1024}])) is None
    errors = message(
        embed_message(fields=[{"name": "n", "value": "v" * 1025}, {"name": "n", "value": ""}])
    )
    assert codes_at(errors, "embeds", 0, "fields", 0, "value") == ["BASE_TYPE_MAX_LENGTH"]
    assert codes_at(errors, "embeds", 0, "fields", 1, "value") == ["BASE_TYPE_REQUIRED"]


def test_embed_footer_text_holds_2048_and_refuses_2049() -> None:
    assert message(embed_message(footer={"text": "f" * 2048})) is None
    errors = message(embed_message(footer={"text": "f" * 2049}))
    assert codes_at(errors, "embeds", 0, "footer", "text") == ["BASE_TYPE_MAX_LENGTH"]


def test_embed_author_name_holds_256_and_refuses_257() -> None:
    assert message(embed_message(author={"name": "a" * 256})) is None
    errors = message(embed_message(author={"name": "a" * 257}))
    assert codes_at(errors, "embeds", 0, "author", "name") == ["BASE_TYPE_MAX_LENGTH"]


def _embeds_totalling(total: int) -> list[dict[str, Any]]:
    """Two embeds, each inside its own limits, whose counted text adds up to `total`."""
    first = {"title": "t" * 256, "description": "d" * 4096}
    rest = total - 256 - 4096 - 256 - 4 - 1
    second = {
        "author": {"name": "a" * 256},
        "fields": [{"name": "n", "value": "v"}],
        "footer": {"text": "f" * (rest - 2)},
        "title": "t" * 4,
        "description": "d",
        "color": 1,
        "url": "https://example.com",
    }
    return [first, second]


def test_all_embeds_of_a_message_hold_6000_characters_and_refuse_6001() -> None:
    assert message({"embeds": _embeds_totalling(6000)}) is None
    errors = message({"embeds": _embeds_totalling(6001)})
    assert errors == {
        "embeds": {
            "_errors": [
                {
                    "code": "MAX_EMBED_SIZE_EXCEEDED",
                    "message": "Embed size exceeds maximum size of 6000",
                }
            ]
        }
    }


def test_embed_color_spans_0_to_ffffff() -> None:
    assert message(embed_message(color=0)) is None
    assert message(embed_message(color=0xFFFFFF)) is None
    assert codes_at(message(embed_message(color=0x1000000)), "embeds", 0, "color") == [
        "NUMBER_TYPE_MAX"
    ]
    assert codes_at(message(embed_message(color=-1)), "embeds", 0, "color") == ["NUMBER_TYPE_MIN"]
    assert codes_at(message(embed_message(color="red")), "embeds", 0, "color") == [
        "NUMBER_TYPE_COERCE"
    ]


def test_embed_urls_must_be_http_or_https() -> None:
    assert message(embed_message(title="t", url="http://example.com/x")) is None
    errors = message(
        {
            "embeds": [
                {"title": "t", "url": "ftp://example.com"},
                {"title": "t", "url": "not a url"},
                {"title": "t", "url": "https://"},
                {"title": "t", "url": "attachment://graph.png"},
                {"author": {"name": "a", "url": "javascript:alert(1)"}},
            ]
        },
        ("graph.png",),
    )
    assert codes_at(errors, "embeds", 0, "url") == ["URL_TYPE_INVALID_SCHEME"]
    assert codes_at(errors, "embeds", 1, "url") == ["URL_TYPE_INVALID_URL"]
    assert codes_at(errors, "embeds", 2, "url") == ["URL_TYPE_INVALID_URL"]
    assert codes_at(errors, "embeds", 3, "url") == ["URL_TYPE_INVALID_SCHEME"]
    assert codes_at(errors, "embeds", 4, "author", "url") == ["URL_TYPE_INVALID_SCHEME"]


def test_embed_images_may_point_at_an_uploaded_attachment() -> None:
    payload = embed_message(
        image={"url": "attachment://graph.png"},
        thumbnail={"url": "attachment://graph.png"},
        footer={"text": "f", "icon_url": "attachment://graph.png"},
    )
    assert message(payload, ("graph.png",)) is None


def test_a_dangling_attachment_reference_is_refused() -> None:
    payload = embed_message(
        image={"url": "attachment://graph.png"}, thumbnail={"url": "attachment://old.png"}
    )

    errors = message(payload, ("other.png",))

    assert codes_at(errors, "embeds", 0, "image", "url") == ["ATTACHMENT_NOT_FOUND"]
    assert codes_at(errors, "embeds", 0, "thumbnail", "url") == ["ATTACHMENT_NOT_FOUND"]
    assert message(payload, ("graph.png", "old.png")) is None


def test_embed_image_needs_a_url() -> None:
    errors = message(embed_message(image={}))

    assert codes_at(errors, "embeds", 0, "image", "url") == ["BASE_TYPE_REQUIRED"]


def test_embed_timestamp_must_be_iso8601() -> None:
    assert message(embed_message(timestamp="2026-11-25T12:00:00.123456+00:00")) is None
    assert message(embed_message(timestamp="2026-11-25T12:00:00Z")) is None
    errors = message(embed_message(timestamp="yesterday at noon"))
    assert codes_at(errors, "embeds", 0, "timestamp") == ["DATE_TIME_TYPE_PARSE"]


# --- classic components --------------------------------------------------------------------------


def test_a_message_holds_5_action_rows_and_refuses_6() -> None:
    rows = [row(button(f"b{i}")) for i in range(6)]
    assert message(components(*rows[:5])) is None
    assert codes_at(message(components(*rows)), "components") == ["BASE_TYPE_MAX_LENGTH"]


def test_a_row_holds_5_buttons_and_refuses_6() -> None:
    buttons = [button(f"b{i}") for i in range(6)]
    assert message(components(row(*buttons[:5]))) is None
    assert codes_at(message(components(row(*buttons))), "components", 0, "components") == [
        "BASE_TYPE_BAD_LENGTH"
    ]


def test_an_empty_row_is_refused() -> None:
    assert codes_at(message(components(row())), "components", 0, "components") == [
        "BASE_TYPE_BAD_LENGTH"
    ]


def test_a_select_fills_its_row_alone() -> None:
    assert message(components(row(string_select()))) is None
    errors = message(components(row(button(), string_select())))
    assert codes_at(errors, "components", 0, "components", 1) == ["COMPONENT_LAYOUT_WIDTH_EXCEEDED"]


def test_custom_id_holds_100_characters_and_refuses_101() -> None:
    assert message(components(row(button("c" * 100)))) is None
    errors = message(components(row(button("c" * 101)), row(string_select(custom_id="s" * 101))))
    assert codes_at(errors, "components", 0, "components", 0, "custom_id") == [
        "BASE_TYPE_BAD_LENGTH"
    ]
    assert codes_at(errors, "components", 1, "components", 0, "custom_id") == [
        "BASE_TYPE_BAD_LENGTH"
    ]


def test_custom_ids_are_unique_within_a_message() -> None:
    errors = message(components(row(button("same")), row(button("other"), button("same"))))

    assert codes_at(errors, "components", 1, "components", 1, "custom_id") == [
        "COMPONENT_CUSTOM_ID_DUPLICATED"
    ]


def test_an_interactive_button_needs_a_custom_id() -> None:
    for missing in ({"custom_id": None}, {"custom_id": ""}):
        errors = message(components(row(button(**missing))))
        assert codes_at(errors, "components", 0, "components", 0, "custom_id") == [
            "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED"
        ]


def test_a_link_button_needs_a_url_and_no_custom_id() -> None:
    link = {"type": 2, "style": 5, "label": "Panel", "url": "https://panel.example.com"}
    assert message(components(row(link))) is None

    errors = message(
        components(
            row(
                {**link, "url": None},
                {**link, "custom_id": "x"},
                button("y", url="https://panel.example.com"),
                {**link, "url": "ftp://panel.example.com"},
            )
        )
    )
    path = ("components", 0, "components")
    assert codes_at(errors, *path, 0, "url") == ["BUTTON_COMPONENT_URL_REQUIRED"]
    assert codes_at(errors, *path, 1) == ["BUTTON_COMPONENT_CUSTOM_ID_URL_MUTUALLY_EXCLUSIVE"]
    assert codes_at(errors, *path, 2) == ["BUTTON_COMPONENT_CUSTOM_ID_URL_MUTUALLY_EXCLUSIVE"]
    assert codes_at(errors, *path, 3, "url") == ["URL_TYPE_INVALID_SCHEME"]


def test_button_label_holds_80_and_refuses_81() -> None:
    assert message(components(row(button(label="l" * 80)))) is None
    errors = message(components(row(button(label="l" * 81))))
    assert codes_at(errors, "components", 0, "components", 0, "label") == ["BASE_TYPE_MAX_LENGTH"]


def test_a_button_needs_a_label_or_an_emoji() -> None:
    assert message(components(row(button(label=None, emoji={"name": "🔁"})))) is None
    errors = message(components(row(button(label=None))))
    assert codes_at(errors, "components", 0, "components", 0, "label") == [
        "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED"
    ]


def test_button_style_must_be_known() -> None:
    errors = message(components(row(button(style=7))))

    assert codes_at(errors, "components", 0, "components", 0, "style") == ["BASE_TYPE_CHOICES"]


def test_a_string_select_holds_25_options_and_refuses_26_or_none() -> None:
    assert message(components(row(string_select(25)))) is None
    for count in (26, 0):
        errors = message(components(row(string_select(count))))
        assert codes_at(errors, "components", 0, "components", 0, "options") == [
            "BASE_TYPE_BAD_LENGTH"
        ]


def test_select_option_texts_hold_100_and_refuse_101() -> None:
    good = {"label": "l" * 100, "value": "v" * 100, "description": "d" * 100}
    assert message(components(row(string_select(0, options=[good])))) is None

    bad = {"label": "l" * 101, "value": "v" * 101, "description": "d" * 101}
    errors = message(components(row(string_select(0, options=[bad]))))
    path = ("components", 0, "components", 0, "options", 0)
    assert codes_at(errors, *path, "label") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, *path, "value") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, *path, "description") == ["BASE_TYPE_MAX_LENGTH"]


def test_select_option_values_are_unique() -> None:
    options = [{"label": "a", "value": "x"}, {"label": "b", "value": "x"}]

    errors = message(components(row(string_select(0, options=options))))

    assert codes_at(errors, "components", 0, "components", 0, "options", 1, "value") == [
        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED"
    ]


def test_select_placeholder_holds_150_and_refuses_151() -> None:
    assert message(components(row(string_select(placeholder="p" * 150)))) is None
    errors = message(components(row(string_select(placeholder="p" * 151))))
    assert codes_at(errors, "components", 0, "components", 0, "placeholder") == [
        "BASE_TYPE_MAX_LENGTH"
    ]


def test_select_min_and_max_values_span_0_to_25() -> None:
    assert message(components(row(string_select(25, min_values=0, max_values=25)))) is None
    errors = message(
        components(
            row(string_select(25, min_values=26, max_values=0)),
            row({"type": 5, "custom_id": "users", "max_values": 26}),
        )
    )
    assert codes_at(errors, "components", 0, "components", 0, "min_values") == ["NUMBER_TYPE_MAX"]
    assert codes_at(errors, "components", 0, "components", 0, "max_values") == ["NUMBER_TYPE_MIN"]
    assert codes_at(errors, "components", 1, "components", 0, "max_values") == ["NUMBER_TYPE_MAX"]


def test_select_min_values_cannot_exceed_max_values() -> None:
    errors = message(components(row(string_select(5, min_values=3, max_values=2))))

    assert codes_at(errors, "components", 0, "components", 0, "min_values") == ["NUMBER_TYPE_MAX"]


def test_a_select_preselects_no_more_than_max_values() -> None:
    options = [
        {"label": "a", "value": "a", "default": True},
        {"label": "b", "value": "b", "default": True},
    ]
    assert message(components(row(string_select(0, options=options, max_values=2)))) is None
    errors = message(components(row(string_select(0, options=options, max_values=1))))
    assert codes_at(errors, "components", 0, "components", 0, "options") == [
        "SELECT_COMPONENT_TOO_MANY_DEFAULT_VALUES"
    ]


def test_entity_selects_need_a_custom_id() -> None:
    for kind in (5, 6, 7, 8):
        assert message(components(row({"type": kind, "custom_id": "pick"}))) is None
        errors = message(components(row({"type": kind})))
        assert codes_at(errors, "components", 0, "components", 0, "custom_id") == [
            "BASE_TYPE_REQUIRED"
        ]


def test_a_classic_message_accepts_only_action_rows_at_the_top() -> None:
    errors = message(components(button(), {"type": 10, "content": "hi"}))

    assert codes_at(errors, "components", 0) == ["UNION_TYPE_CHOICES"]
    assert codes_at(errors, "components", 1) == ["UNION_TYPE_CHOICES"]
    assert errors is not None
    assert errors["components"]["0"]["_errors"][0]["message"] == (
        'Value of field "type" must be one of (1,).'
    )


def test_a_text_input_does_not_belong_in_a_message() -> None:
    errors = message(components(row(text_input())))

    assert codes_at(errors, "components", 0, "components", 0) == ["UNION_TYPE_CHOICES"]


# --- components v2 -------------------------------------------------------------------------------


def _text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def test_layout_components_without_the_components_v2_flag_are_refused() -> None:
    layout = {"components": [{"type": 17, "components": [_text("# Status")]}, _text("hi")]}

    errors = message(layout)

    assert codes_at(errors, "components", 0) == ["UNION_TYPE_CHOICES"]
    assert codes_at(errors, "components", 1) == ["UNION_TYPE_CHOICES"]
    assert message({**layout, "flags": 1 << 15}) is None


def test_a_container_accent_color_spans_0_to_ffffff() -> None:
    box = {"type": 17, "accent_color": 0x1000000, "components": [_text("x")]}

    errors = message({"flags": 1 << 15, "components": [box]})

    assert codes_at(errors, "components", 0, "accent_color") == ["NUMBER_TYPE_MAX"]


def test_components_v2_refuse_content_and_embeds() -> None:
    payload = {"flags": 1 << 15, "content": "hi", "embeds": [{"title": "t"}], "components": []}

    errors = message(payload)

    assert codes_at(errors, "content") == ["MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"]
    assert codes_at(errors, "embeds") == ["MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"]


def test_components_v2_hold_40_components_and_refuse_41() -> None:
    container = {"type": 17, "components": [_text("x") for _ in range(39)]}
    assert message({"flags": 1 << 15, "components": [container]}) is None

    container["components"].append(_text("y"))
    errors = message({"flags": 1 << 15, "components": [container]})
    assert codes_at(errors, "components") == ["BASE_TYPE_MAX_LENGTH"]


def test_components_v2_text_holds_4000_characters_in_total() -> None:
    assert message({"flags": 1 << 15, "components": [_text("x" * 2000), _text("y" * 2000)]}) is None
    errors = message({"flags": 1 << 15, "components": [_text("x" * 2000), _text("y" * 2001)]})
    assert codes_at(errors, "components", 1, "content") == ["BASE_TYPE_MAX_LENGTH"]


def test_components_v2_media_must_name_an_uploaded_file() -> None:
    gallery = {"type": 12, "items": [{"media": {"url": "attachment://graph.png"}}]}
    files = {"type": 13, "file": {"url": "https://example.com/a.txt"}}

    errors = message({"flags": 1 << 15, "components": [gallery, files]})

    assert codes_at(errors, "components", 0, "items", 0, "media", "url") == ["ATTACHMENT_NOT_FOUND"]
    assert codes_at(errors, "components", 1, "file", "url") == ["URL_TYPE_INVALID_SCHEME"]


def test_a_section_needs_texts_and_an_accessory() -> None:
    errors = message({"flags": 1 << 15, "components": [{"type": 9, "components": []}]})

    assert codes_at(errors, "components", 0, "components") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, "components", 0, "accessory") == ["BASE_TYPE_REQUIRED"]


# --- interaction callbacks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (1, None),
        (4, {"content": "hi", "flags": 64}),
        (5, None),
        (5, {"flags": 64}),
        (6, None),
        (7, {"content": "edited"}),
        (8, {"choices": []}),
        (9, modal(row(text_input()))),
        (10, None),
        (12, None),
    ],
)
def test_every_documented_callback_type_is_accepted(kind: int, data: Any) -> None:
    assert callback(kind, data) is None


@pytest.mark.parametrize("kind", [0, 2, 3, 11, 13])
def test_an_unknown_callback_type_is_refused(kind: int) -> None:
    errors = callback(kind)

    assert errors == {
        "type": {
            "_errors": [
                {
                    "code": "BASE_TYPE_CHOICES",
                    "message": "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
                }
            ]
        }
    }


def test_a_callback_needs_a_type() -> None:
    assert codes_at(rules.validate_interaction_callback({}), "type") == ["BASE_TYPE_REQUIRED"]


def test_a_message_callback_is_validated_as_a_message() -> None:
    errors = rules.validate_interaction_callback(
        {
            "type": 4,
            "data": {"content": "x" * 2001, "embeds": [{"image": {"url": "attachment://g.png"}}]},
        }
    )

    assert codes_at(errors, "data", "content") == ["BASE_TYPE_MAX_LENGTH"]
    assert codes_at(errors, "data", "embeds", 0, "image", "url") == ["ATTACHMENT_NOT_FOUND"]


def test_an_empty_message_callback_is_refused_with_50006() -> None:
    rejection = rules.check_interaction_callback({"type": 4, "data": {"flags": 64}})

    assert rejection == rules.Rejection(
        400, {"code": 50006, "message": "Cannot send an empty message"}
    )
    assert rules.check_interaction_callback({"type": 7, "data": {"flags": 0}}) is None
    assert rules.check_interaction_callback({"type": 6}) is None


def test_a_deferred_callback_checks_its_flags() -> None:
    assert callback(5, {"flags": 64}) is None
    assert codes_at(callback(5, {"flags": "64"}), "data", "flags") == ["NUMBER_TYPE_COERCE"]
    assert codes_at(callback(6, ["flags"]), "data") == ["MODEL_TYPE_CONVERT"]


def test_autocomplete_holds_25_choices_and_refuses_26() -> None:
    choices = [{"name": f"Server {i}", "value": str(i)} for i in range(26)]
    assert callback(8, {"choices": choices[:25]}) is None
    assert codes_at(callback(8, {"choices": choices}), "data", "choices") == [
        "BASE_TYPE_MAX_LENGTH"
    ]


def test_autocomplete_choice_name_and_value_limits() -> None:
    good = [
        {"name": "n" * 100, "value": "v" * 100},
        {"name": "n", "value": 3},
        {"name": "f", "value": 2.5},
    ]
    assert callback(8, {"choices": good}) is None

    bad = [
        {"name": "n" * 101, "value": "v"},
        {"name": "", "value": "v"},
        {"name": "n", "value": "v" * 101},
        {"name": "n", "value": [1]},
        {"name": "n", "value": True},
    ]
    errors = callback(8, {"choices": bad})
    assert codes_at(errors, "data", "choices", 0, "name") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, "data", "choices", 1, "name") == ["BASE_TYPE_REQUIRED"]
    assert codes_at(errors, "data", "choices", 2, "value") == ["BASE_TYPE_MAX_LENGTH"]
    assert codes_at(errors, "data", "choices", 3, "value") == ["BASE_TYPE_BAD_TYPE"]
    assert codes_at(errors, "data", "choices", 4, "value") == ["BASE_TYPE_BAD_TYPE"]


def test_an_autocomplete_result_needs_choices() -> None:
    assert codes_at(callback(8, {}), "data", "choices") == ["BASE_TYPE_REQUIRED"]


def test_modal_custom_id_holds_100_and_title_holds_45() -> None:
    assert callback(9, modal(row(text_input()), custom_id="c" * 100, title="t" * 45)) is None
    errors = callback(9, modal(row(text_input()), custom_id="c" * 101, title="t" * 46))
    assert codes_at(errors, "data", "custom_id") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, "data", "title") == ["BASE_TYPE_BAD_LENGTH"]


def test_a_modal_holds_1_to_5_rows() -> None:
    rows = [row(text_input(f"t{i}")) for i in range(6)]
    assert callback(9, modal(*rows[:5])) is None
    for count in (6, 0):
        assert codes_at(callback(9, modal(*rows[:count])), "data", "components") == [
            "BASE_TYPE_BAD_LENGTH"
        ]


def test_a_modal_needs_its_fields() -> None:
    errors = callback(9, {})

    assert codes_at(errors, "data", "custom_id") == ["BASE_TYPE_REQUIRED"]
    assert codes_at(errors, "data", "title") == ["BASE_TYPE_REQUIRED"]
    assert codes_at(errors, "data", "components") == ["BASE_TYPE_REQUIRED"]
    assert codes_at(callback(9), "data") == ["BASE_TYPE_REQUIRED"]


def test_text_input_limits() -> None:
    good = text_input(
        label="l" * 45,
        style=2,
        min_length=0,
        max_length=4000,
        value="v" * 4000,
        placeholder="p" * 100,
        custom_id="c" * 100,
    )
    assert callback(9, modal(row(good))) is None

    bad = text_input(
        label="l" * 46,
        style=3,
        min_length=4001,
        max_length=0,
        value="v" * 4001,
        placeholder="p" * 101,
        custom_id="c" * 101,
    )
    errors = callback(9, modal(row(bad)))
    path = ("data", "components", 0, "components", 0)
    assert codes_at(errors, *path, "label") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, *path, "style") == ["BASE_TYPE_CHOICES"]
    assert codes_at(errors, *path, "min_length") == ["NUMBER_TYPE_MAX"]
    assert codes_at(errors, *path, "max_length") == ["NUMBER_TYPE_MIN"]
    assert codes_at(errors, *path, "value") == ["BASE_TYPE_MAX_LENGTH"]
    assert codes_at(errors, *path, "placeholder") == ["BASE_TYPE_MAX_LENGTH"]
    assert codes_at(errors, *path, "custom_id") == ["BASE_TYPE_BAD_LENGTH"]


def test_a_text_input_in_a_row_needs_its_label() -> None:
    errors = callback(9, modal(row(text_input(label=None))))

    assert codes_at(errors, "data", "components", 0, "components", 0, "label") == [
        "BASE_TYPE_REQUIRED"
    ]


def test_a_modal_row_holds_one_text_input_and_no_buttons() -> None:
    errors = callback(9, modal(row(text_input("a"), text_input("b")), row(button())))

    assert codes_at(errors, "data", "components", 0, "components", 1) == [
        "COMPONENT_LAYOUT_WIDTH_EXCEEDED"
    ]
    assert codes_at(errors, "data", "components", 1, "components", 0) == ["UNION_TYPE_CHOICES"]


def test_modal_custom_ids_are_unique() -> None:
    errors = callback(9, modal(row(text_input("same")), row(text_input("same"))))

    assert codes_at(errors, "data", "components", 1, "components", 0, "custom_id") == [
        "COMPONENT_CUSTOM_ID_DUPLICATED"
    ]


def test_a_modal_label_holds_45_characters() -> None:
    labelled = {"type": 18, "label": "l" * 45, "component": text_input(label=None)}
    assert callback(9, modal(labelled)) is None
    errors = callback(9, modal({**labelled, "label": "l" * 46, "description": "d" * 101}))
    assert codes_at(errors, "data", "components", 0, "label") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, "data", "components", 0, "description") == ["BASE_TYPE_MAX_LENGTH"]


# --- application commands ------------------------------------------------------------------------


def test_command_name_holds_32_lower_case_characters() -> None:
    assert commands(command("s" * 32), command("état-du_serveur")) is None
    errors = commands(command("s" * 33), command("Status"), command("server status"))
    assert codes_at(errors, 0, "name") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, 1, "name") == ["APPLICATION_COMMAND_INVALID_NAME"]
    assert codes_at(errors, 2, "name") == ["APPLICATION_COMMAND_INVALID_NAME"]


def test_context_menu_names_may_use_capitals_and_spaces() -> None:
    assert commands({"name": "Show Server", "type": 3}, {"name": "Who Is", "type": 2}) is None


def test_command_description_holds_100_and_is_required() -> None:
    assert commands(command(description="d" * 100)) is None
    errors = commands(command("a", description="d" * 101), command("b", description=""))
    assert codes_at(errors, 0, "description") == ["BASE_TYPE_BAD_LENGTH"]
    assert codes_at(errors, 1, "description") == ["BASE_TYPE_REQUIRED"]


def test_a_command_holds_25_options_and_refuses_26() -> None:
    options = [option(f"o{i}") for i in range(26)]
    assert commands(command(options=options[:25])) is None
    assert codes_at(commands(command(options=options)), 0, "options") == ["BASE_TYPE_MAX_LENGTH"]


def test_option_names_follow_the_command_naming_rules() -> None:
    errors = commands(command(options=[option("Server"), option("s" * 33), option("ok")]))

    assert codes_at(errors, 0, "options", 0, "name") == ["APPLICATION_COMMAND_INVALID_NAME"]
    assert codes_at(errors, 0, "options", 1, "name") == ["BASE_TYPE_BAD_LENGTH"]


def test_option_names_are_unique_within_their_array() -> None:
    errors = commands(command(options=[option("server"), option("server")]))

    assert codes_at(errors, 0, "options", 1, "name") == [
        "APPLICATION_COMMAND_OPTION_NAME_DUPLICATED"
    ]


def test_required_options_come_before_optional_ones() -> None:
    assert commands(command(options=[option("a", required=True), option("b")])) is None
    errors = commands(command(options=[option("a"), option("b", required=True)]))
    assert codes_at(errors, 0, "options", 1) == ["APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"]


def test_an_option_holds_25_choices_and_refuses_26() -> None:
    choices = [{"name": f"c{i}", "value": f"v{i}"} for i in range(26)]
    assert commands(command(options=[option(choices=choices[:25])])) is None
    errors = commands(command(options=[option(choices=choices)]))
    assert codes_at(errors, 0, "options", 0, "choices") == ["BASE_TYPE_MAX_LENGTH"]


def test_choice_values_match_their_option_type() -> None:
    integer = {
        "type": 4,
        "name": "n",
        "description": "d",
        "choices": [{"name": "one", "value": "1"}],
    }
    string = option("s", choices=[{"name": "x", "value": "v" * 101}])

    errors = commands(command(options=[integer, string]))

    assert codes_at(errors, 0, "options", 0, "choices", 0, "value") == ["NUMBER_TYPE_COERCE"]
    assert codes_at(errors, 0, "options", 1, "choices", 0, "value") == ["BASE_TYPE_MAX_LENGTH"]


def test_autocomplete_is_not_set_together_with_choices() -> None:
    choices = [{"name": "Start", "value": "start"}]
    assert commands(command(options=[option(autocomplete=True)])) is None
    errors = commands(command(options=[option(autocomplete=True, choices=choices)]))
    assert codes_at(errors, 0, "options", 0, "autocomplete") == [
        "APPLICATION_COMMAND_AUTOCOMPLETE_WITH_CHOICES"
    ]


def test_subcommand_groups_hold_only_subcommands() -> None:
    sub = {"type": 1, "name": "add", "description": "Add", "options": [option()]}
    group = {"type": 2, "name": "alerts", "description": "Alerts", "options": [sub]}
    assert commands(command(options=[group])) is None

    errors = commands(command(options=[{**group, "options": [option()]}, option("plain")]))
    assert codes_at(errors, 0, "options", 0, "options", 0) == ["UNION_TYPE_CHOICES"]
    assert codes_at(errors, 0, "options", 1) == ["UNION_TYPE_CHOICES"]


def test_command_names_are_unique_per_type() -> None:
    assert commands(command("show"), {"name": "show", "type": 3}) is None
    errors = commands(command("show"), command("show"))
    assert codes_at(errors, 1) == ["APPLICATION_COMMANDS_DUPLICATE_NAME"]


def test_an_application_holds_100_chat_input_commands_and_refuses_101() -> None:
    many = [command(f"cmd{i}") for i in range(101)]
    assert rules.validate_application_commands(many[:100]) is None
    errors = rules.validate_application_commands(many)
    assert codes_at(errors) == ["APPLICATION_COMMANDS_TOO_MANY"]


def test_a_command_holds_8000_characters_in_total() -> None:
    # "size" (4) + description (100) + 25 options x ("oNN" 3 + description 100) = 2679.
    options = [option(f"o{i:02d}", description="d" * 100) for i in range(25)]
    full = {"name": "n" * 100, "value": "v" * 100}
    options[0]["choices"] = [full] * 25  # + 5000 = 7679
    options[1]["choices"] = [full, {"name": "n" * 21, "value": "v" * 100}]  # + 321 = 8000
    payload = command("size", description="d" * 100, options=options)
    assert commands(payload) is None

    options[1]["choices"][1] = {"name": "n" * 22, "value": "v" * 100}
    assert codes_at(commands(payload), 0) == ["APPLICATION_COMMAND_TOO_LARGE"]


def test_an_invalid_command_list_is_answered_with_50035() -> None:
    rejection = rules.check_application_commands([command("Bad Name")])

    assert rejection is not None
    assert rejection.status == 400
    assert rejection.body["code"] == 50035
    assert codes_at(rejection.body["errors"], 0, "name") == ["APPLICATION_COMMAND_INVALID_NAME"]
    assert rules.check_application_commands([command("good")]) is None


def test_a_command_list_must_be_a_list() -> None:
    errors = rules.validate_application_commands({"name": "x"})  # type: ignore[arg-type]

    assert codes_at(errors) == ["LIST_TYPE_CONVERT"]


# --- error bodies --------------------------------------------------------------------------------


def test_error_body_leaves_out_errors_when_there_are_none() -> None:
    assert rules.discord_error_body(10003, "Unknown Channel") == {
        "code": 10003,
        "message": "Unknown Channel",
    }
    errors = {"content": {"_errors": [{"code": "X", "message": "y"}]}}
    assert rules.discord_error_body(50035, "Invalid Form Body", errors) == {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": errors,
    }


@pytest.mark.parametrize(
    ("code", "status", "text"),
    [
        (rules.GENERAL_ERROR, 401, "401: Unauthorized"),
        (rules.UNKNOWN_CHANNEL, 404, "Unknown Channel"),
        (rules.UNKNOWN_MESSAGE, 404, "Unknown Message"),
        (rules.UNKNOWN_INTERACTION, 404, "Unknown interaction"),
        (rules.INTERACTION_ALREADY_ACKNOWLEDGED, 400, "Interaction has already been acknowledged."),
        (rules.MISSING_ACCESS, 403, "Missing Access"),
        (rules.CANNOT_SEND_EMPTY_MESSAGE, 400, "Cannot send an empty message"),
        (rules.MISSING_PERMISSIONS, 403, "Missing Permissions"),
        (rules.INVALID_FORM_BODY, 400, "Invalid Form Body"),
    ],
)
def test_well_known_errors_carry_discords_status_and_message(
    code: int, status: int, text: str
) -> None:
    known = rules.known_error(code)

    assert (known.status, known.message) == (status, text)
    assert known.body() == {"code": code, "message": text}


def test_an_unknown_error_code_is_not_guessed() -> None:
    with pytest.raises(KeyError):
        rules.known_error(12345)


def test_plain_http_errors_use_code_0() -> None:
    assert rules.http_error_body(401) == {"code": 0, "message": "401: Unauthorized"}
    assert rules.http_error_body(405) == {"code": 0, "message": "405: Method Not Allowed"}


def test_rate_limited_body_matches_discords_429() -> None:
    assert rules.rate_limited_body(64.57, False) == {
        "message": "You are being rate limited.",
        "retry_after": 64.57,
        "global": False,
    }
    assert rules.rate_limited_body(1.0, True)["global"] is True
