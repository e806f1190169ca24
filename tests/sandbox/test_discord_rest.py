"""The sandbox's REST API over raw HTTP: Discord's shapes, rules and error codes."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from pterodisbot_sandbox.discord_server import DiscordSandbox, RateLimits, World
from tests.fixtures.discord import ControlError, SandboxClient


def png(width: int = 3, height: int = 2) -> bytes:
    """Return a tiny valid PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class Api:
    """Raw HTTP calls to the sandbox's /api/v10 as a bot would make them."""

    def __init__(self, sandbox: DiscordSandbox, session: aiohttp.ClientSession) -> None:
        self.base = f"{sandbox.url}/api/v10"
        self.session = session
        self.auth = {"Authorization": f"Bot {sandbox.bot_token}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any, Any]:
        headers = {**(self.auth if auth else {}), **(headers or {})}
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as r:
            text = await r.text()
            body = json.loads(text) if text and r.content_type == "application/json" else text
            return r.status, body, r.headers

    def form(self, payload: dict[str, Any], files: list[tuple[str, bytes]]) -> aiohttp.FormData:
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("payload_json", json.dumps(payload))
        for i, (name, data) in enumerate(files):
            form.add_field(
                f"files[{i}]", data, filename=name, content_type="application/octet-stream"
            )
        return form


@pytest.fixture
async def api(discord_sandbox: DiscordSandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(discord_sandbox, session)


@pytest.fixture
def status_id(discord_sandbox: DiscordSandbox) -> int:
    return discord_sandbox.world.channel("status").id


async def test_requests_without_a_bot_token_are_unauthorized(api: Api):
    status, body, _ = await api.call("GET", "/users/@me", auth=False)

    assert status == 401
    assert body == {"code": 0, "message": "401: Unauthorized"}


async def test_a_configured_token_refuses_other_tokens(discord_sandbox_factory):
    sandbox = await discord_sandbox_factory(token="MTIzNDU2Nzg5MA.abcdef.only-this-one-xxxxxxxxxx")
    async with aiohttp.ClientSession() as session:
        api = Api(sandbox, session)
        ok, _, _ = await api.call("GET", "/users/@me")
        api.auth = {"Authorization": "Bot MTIzNDU2Nzg5MA.abcdef.another-one-xxxxxxxxxxxx"}
        refused, _, _ = await api.call("GET", "/users/@me")

    assert (ok, refused) == (200, 401)


async def test_json_answers_carry_exactly_application_json(api: Api):
    # discord.py parses a body only when the header is exactly this (no charset).
    _, body, headers = await api.call("GET", "/gateway/bot")

    assert headers["Content-Type"] == "application/json"
    assert body["url"].endswith("/gateway")
    assert body["shards"] == 1


async def test_message_is_created_and_read_back(api: Api, status_id: int, discord_sandbox):
    status, created, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", json={"content": "hello", "embeds": []}
    )
    assert status == 200
    status, fetched, _ = await api.call("GET", f"/channels/{status_id}/messages/{created['id']}")

    assert status == 200
    assert fetched["content"] == "hello"
    assert fetched["author"]["id"] == str(discord_sandbox.world.bot.id)
    assert fetched["channel_id"] == str(status_id)
    assert fetched["guild_id"] == str(discord_sandbox.world.guilds[0].id)


async def test_uploaded_image_is_served_back_and_embeds_point_at_it(api: Api, status_id: int):
    image = png(3, 2)
    payload = {
        "embeds": [{"title": "CPU", "image": {"url": "attachment://graph.png"}}],
        "attachments": [{"id": 0, "filename": "graph.png"}],
    }
    status, message, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", data=api.form(payload, [("graph.png", image)])
    )

    assert status == 200
    (att,) = message["attachments"]
    assert (att["filename"], att["size"], att["content_type"]) == (
        "graph.png",
        len(image),
        "image/png",
    )
    assert (att["width"], att["height"]) == (3, 2)
    assert message["embeds"][0]["image"]["url"] == att["url"]
    async with api.session.get(att["url"]) as r:
        assert r.headers["Content-Type"] == "image/png"
        assert await r.read() == image


async def test_edit_keeps_the_attachments_it_lists_and_drops_the_rest(api: Api, status_id: int):
    payload = {"content": "two files"}
    _, message, _ = await api.call(
        "POST",
        f"/channels/{status_id}/messages",
        data=api.form(payload, [("a.png", png()), ("b.txt", b"notes")]),
    )
    a, b = message["attachments"]
    assert b["content_type"].startswith("text/plain")
    path = f"/channels/{status_id}/messages/{message['id']}"

    _, kept_a, _ = await api.call("PATCH", path, json={"attachments": [{"id": a["id"]}]})
    _, untouched, _ = await api.call("PATCH", path, json={"content": "only text changed"})
    _, replaced, _ = await api.call(
        "PATCH",
        path,
        data=api.form({"attachments": [{"id": 0, "filename": "c.png"}]}, [("c.png", png())]),
    )

    assert [x["id"] for x in kept_a["attachments"]] == [a["id"]]
    assert [x["id"] for x in untouched["attachments"]] == [a["id"]]
    assert untouched["edited_timestamp"] is not None
    assert [x["filename"] for x in replaced["attachments"]] == ["c.png"]


async def test_oversized_embed_is_invalid_form_body(api: Api, status_id: int):
    status, body, _ = await api.call(
        "POST",
        f"/channels/{status_id}/messages",
        json={"embeds": [{"title": "t", "description": "x" * 4097}]},
    )

    assert status == 400
    assert body["code"] == 50035
    assert (
        body["errors"]["embeds"]["0"]["description"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    )


async def test_embeds_over_6000_characters_in_total_are_refused(api: Api, status_id: int):
    embeds = [{"description": "x" * 4000}, {"description": "y" * 2001}]

    status, body, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", json={"embeds": embeds}
    )

    assert status == 400
    assert body["code"] == 50035


async def test_custom_id_of_101_characters_is_refused(api: Api, status_id: int):
    button = {"type": 2, "style": 1, "label": "Start", "custom_id": "x" * 101}
    components = [{"type": 1, "components": [button]}]

    status, body, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", json={"content": "c", "components": components}
    )

    assert status == 400
    assert body["code"] == 50035
    assert "custom_id" in body["errors"]["components"]["0"]["components"]["0"]


async def test_dangling_attachment_reference_is_refused(api: Api, status_id: int):
    payload = {"embeds": [{"title": "graph", "image": {"url": "attachment://missing.png"}}]}

    status, body, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", data=api.form(payload, [("graph.png", png())])
    )

    assert status == 400
    assert body["code"] == 50035
    assert "image" in body["errors"]["embeds"]["0"]


async def test_empty_message_is_refused_with_50006(api: Api, status_id: int):
    status, body, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", json={"content": ""}
    )

    assert (status, body["code"]) == (400, 50006)


async def test_invalid_json_is_refused(api: Api, status_id: int):
    status, body, _ = await api.call(
        "POST",
        f"/channels/{status_id}/messages",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )

    assert (status, body["code"]) == (400, 50109)


async def test_unknown_channel_and_unknown_message(api: Api, status_id: int):
    status_c, body_c, _ = await api.call("POST", "/channels/1/messages", json={"content": "x"})
    status_m, body_m, _ = await api.call(
        "PATCH", f"/channels/{status_id}/messages/1", json={"content": "x"}
    )

    assert (status_c, body_c["code"]) == (404, 10003)
    assert (status_m, body_m["code"]) == (404, 10008)


async def test_editing_a_message_a_moderator_deleted_is_unknown_message(
    api: Api, status_id: int, discord_control: SandboxClient
):
    _, message, _ = await api.call("POST", f"/channels/{status_id}/messages", json={"content": "x"})
    await discord_control.delete_message(str(status_id), message["id"])

    status, body, _ = await api.call(
        "PATCH", f"/channels/{status_id}/messages/{message['id']}", json={"content": "y"}
    )

    assert (status, body["code"]) == (404, 10008)


async def test_deleted_channel_is_unknown_channel(
    api: Api, status_id: int, discord_control: SandboxClient
):
    await discord_control.delete_channel(str(status_id))

    status, body, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", json={"content": "x"}
    )

    assert (status, body["code"]) == (404, 10003)


async def test_revoked_permissions_answer_missing_access_and_missing_permissions(
    api: Api, status_id: int, discord_control: SandboxClient
):
    path = f"/channels/{status_id}/messages"
    _, message, _ = await api.call("POST", path, json={"content": "before"})
    channel = str(status_id)

    await discord_control.set_permissions(channel, send=False)
    send_refused = await api.call("POST", path, json={"content": "x"})
    await discord_control.set_permissions(channel, send=True, edit=False)
    edit_refused = await api.call("PATCH", f"{path}/{message['id']}", json={"content": "y"})
    await discord_control.set_permissions(channel, edit=True, view=False)
    view_refused = await api.call("POST", path, json={"content": "x"})
    await discord_control.set_permissions(channel, view=True)
    allowed = await api.call("POST", path, json={"content": "x"})

    assert (send_refused[0], send_refused[1]["code"]) == (403, 50013)
    assert (edit_refused[0], edit_refused[1]["code"]) == (403, 50013)
    assert (view_refused[0], view_refused[1]["code"]) == (403, 50001)
    assert allowed[0] == 200


async def test_channel_listing_is_newest_first_and_limited(api: Api, status_id: int):
    for i in range(3):
        await api.call("POST", f"/channels/{status_id}/messages", json={"content": str(i)})

    _, listed, _ = await api.call("GET", f"/channels/{status_id}/messages?limit=2")

    assert [m["content"] for m in listed] == ["2", "1"]


async def test_request_log_shows_payload_json_and_file_names(
    api: Api, status_id: int, discord_control: SandboxClient
):
    await api.call("GET", "/users/@me")
    first = len(await discord_control.requests())
    await api.call(
        "POST",
        f"/channels/{status_id}/messages",
        data=api.form({"content": "graph"}, [("graph.png", png())]),
    )
    await api.call("POST", f"/channels/{status_id}/messages", json={"content": ""})

    entries = await discord_control.requests(since=first)

    upload, empty = entries
    assert upload["payload_json"] == {"content": "graph"}
    assert upload["files"] == ["graph.png"]
    assert (upload["status"], upload["route"]) == (200, "POST /channels/{channel_id}/messages")
    assert empty["json"] == {"content": ""}
    assert (empty["status"], empty["code"]) == (400, 50006)
    assert empty["seq"] == first + 2


async def test_world_lists_ids_and_can_hold_a_second_guild(discord_sandbox_factory):
    sandbox = await discord_sandbox_factory(
        world=World.default(second_guild=True), rate_limits=RateLimits.off()
    )
    async with aiohttp.ClientSession() as session:
        world = await SandboxClient(sandbox.url, session).world()

    names = [g["name"] for g in world["guilds"]]
    assert names == ["Pterodisbot Sandbox", "Other Guild"]
    main, other = world["guilds"]
    assert [c["name"] for c in main["channels"]] == ["status", "alerts", "audit"]
    assert {r["name"] for r in main["roles"]} >= {"@everyone", "Admin", "Operator"}
    assert main["owner"] == "owner"
    assert [m["user"] for m in other["members"]] == ["outsider"]
    assert "outsider" not in [m["user"] for m in main["members"]]


def test_world_from_json_fills_ids_and_checks_references():
    world = World.from_json(
        {
            "users": [{"name": "alice"}],
            "guilds": [
                {
                    "name": "G",
                    "owner": "alice",
                    "roles": [{"name": "Mods", "permissions": ["manage_messages"]}],
                    "channels": [{"name": "status"}],
                    "members": [{"user": "alice", "roles": ["Mods"]}],
                }
            ],
        }
    )

    assert world.guild("G").id == world.role("@everyone").id
    assert world.channel("status").id > 0
    with pytest.raises(ValueError, match="unknown roles"):
        World.from_json(
            {
                "users": [{"name": "a"}],
                "guilds": [{"name": "G", "owner": "a", "members": [{"user": "a", "roles": ["X"]}]}],
            }
        )


async def test_unknown_routes_and_methods_answer_like_discord(api: Api, status_id: int):
    missing = await api.call("GET", "/no/such/route")
    wrong_method = await api.call("PUT", f"/channels/{status_id}/messages", json={})

    assert (missing[0], missing[1]) == (404, {"code": 0, "message": "404: Not Found"})
    assert (wrong_method[0], wrong_method[1]["message"]) == (405, "405: Method Not Allowed")


async def test_an_edit_that_replaces_a_file_stops_serving_the_old_one(api: Api, status_id: int):
    _, message, _ = await api.call(
        "POST", f"/channels/{status_id}/messages", data=api.form({}, [("graph.png", png())])
    )
    old_url = message["attachments"][0]["url"]

    _, edited, _ = await api.call(
        "PATCH",
        f"/channels/{status_id}/messages/{message['id']}",
        data=api.form({"attachments": [{"id": 0}]}, [("graph.png", png(4, 4))]),
    )
    async with (
        api.session.get(old_url) as old,
        api.session.get(edited["attachments"][0]["url"]) as new,
    ):
        statuses = (old.status, new.status)

    assert statuses == (404, 200)


async def test_channel_history_pages_with_before_and_after_and_carries_components(
    api: Api, status_id: int
):
    path = f"/channels/{status_id}/messages"
    button = {"type": 2, "style": 1, "label": "Start", "custom_id": "pdb:start:1a2b3c4d"}
    ids = []
    for i in range(5):
        payload: dict[str, object] = {"content": str(i)}
        if i == 2:
            payload["components"] = [{"type": 1, "components": [button]}]
        _, message, _ = await api.call("POST", path, json=payload)
        ids.append(message["id"])

    _, before, _ = await api.call("GET", f"{path}?limit=2&before={ids[3]}")
    _, after, _ = await api.call("GET", f"{path}?limit=2&after={ids[0]}")
    _, capped, _ = await api.call("GET", f"{path}?limit=500")

    # Newest first either way; `after` gives the messages right after it, as Discord does.
    assert [m["content"] for m in before] == ["2", "1"]
    assert [m["content"] for m in after] == ["2", "1"]
    assert before[0]["components"] == [{"type": 1, "components": [button]}]
    assert len(capped) == 5


async def test_role_permissions_decide_the_bots_answers_from_the_next_request(
    api: Api, status_id: int, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    bot_role = discord_sandbox.world.bot.name
    path = f"/channels/{status_id}/messages"
    _, message, _ = await api.call("POST", path, json={"content": "status"})

    async def edit_with_graph() -> int:
        payload = {"attachments": [{"id": 0, "filename": "graph.png"}]}
        form = api.form(payload, [("graph.png", png())])
        status, _, _ = await api.call("PATCH", f"{path}/{message['id']}", data=form)
        return status

    async def read_channel() -> tuple[int, int | None]:
        status, body, _ = await api.call("GET", f"/channels/{status_id}")
        return status, body.get("code")

    # @everyone grants Attach Files too: the bot keeps it until its own role loses it as well.
    await discord_control.set_role_permissions("@everyone", revoke=["attach_files"])
    with_bot_role = await edit_with_graph()
    await discord_control.set_role_permissions(bot_role, revoke=["attach_files"])
    without = await edit_with_graph()
    await discord_control.set_role_permissions(bot_role, grant=["attach_files"])
    granted_again = await edit_with_graph()
    await discord_control.set_role_permissions("@everyone", revoke=["view_channel"])
    await discord_control.set_role_permissions(bot_role, permissions=0)
    hidden = await read_channel()
    # A role given to the bot counts as much as its own.
    await discord_control.add_member_role("Admin")
    as_admin = await read_channel()
    _, roles, _ = await api.call("GET", f"/guilds/{discord_sandbox.world.guilds[0].id}/roles")

    assert (with_bot_role, without, granted_again) == (200, 403, 200)
    assert hidden == (403, 50001)
    assert as_admin == (200, None)
    assert next(r for r in roles if r["name"] == bot_role)["permissions"] == "0"


async def test_role_changes_are_checked_like_discords_role_routes(
    discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    bot_role = discord_sandbox.world.bot.name

    async def refusal(call: Any) -> tuple[int, str]:
        with pytest.raises(ControlError) as info:
            await call
        return info.value.status, info.value.body["error"]

    unknown_role = await refusal(discord_control.set_role_permissions("Nobody", grant=["x"]))
    unknown_name = await refusal(discord_control.set_role_permissions(bot_role, grant=["fly"]))
    managed = await refusal(discord_control.add_member_role(bot_role, user="member"))
    everyone = await refusal(discord_control.remove_member_role("@everyone", user="member"))
    outsider = await refusal(discord_control.add_member_role("Operator", user="outsider"))

    assert unknown_role[0] == 404
    assert unknown_name == (400, "unknown permission name 'fly'")
    assert managed == (400, f"{bot_role!r} is managed by an integration")
    assert everyone == (400, "@everyone cannot be given or taken")
    assert outsider[0] == 404


async def test_a_message_mentions_only_the_roles_allowed_mentions_lets_through(
    api: Api, discord_sandbox: DiscordSandbox
):
    world = discord_sandbox.world
    guild = world.guilds[0]
    channel = world.channel("alerts").id
    admin = next(r.id for r in guild.roles if r.name == "Admin")
    operator = next(r.id for r in guild.roles if r.name == "Operator")
    content = f"<@&{admin}> <@&{operator}> @everyone"
    payload = {"allowed_mentions": {"parse": [], "roles": [str(operator)]}, "content": content}

    status, body, _ = await api.call("POST", f"/channels/{channel}/messages", json=payload)
    assert status == 200, body
    assert body["mention_roles"] == [str(operator)]
    assert body["mention_everyone"] is False

    status, body, _ = await api.call(
        "POST", f"/channels/{channel}/messages", json={"content": content}
    )
    assert status == 200, body
    assert body["mention_roles"] == [str(admin), str(operator)]
    assert body["mention_everyone"] is True


async def test_a_reply_keeps_its_message_reference(api: Api, discord_sandbox: DiscordSandbox):
    channel = discord_sandbox.world.channel("alerts").id
    _, first, _ = await api.call("POST", f"/channels/{channel}/messages", json={"content": "a"})
    reply = {"content": "b", "message_reference": {"message_id": first["id"]}}

    status, body, _ = await api.call("POST", f"/channels/{channel}/messages", json=reply)

    assert status == 200, body
    assert body["message_reference"]["message_id"] == first["id"]
    assert body["message_reference"]["channel_id"] == str(channel)
