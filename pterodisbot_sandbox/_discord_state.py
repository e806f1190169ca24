"""The sandbox's live state: guilds, channels, messages, attachments and their JSON shapes."""

from __future__ import annotations

import datetime as dt
import itertools
import mimetypes
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pterodisbot.clock import Clock
from pterodisbot_sandbox._discord_world import (
    ChannelSeed,
    GuildSeed,
    Perm,
    RoleSeed,
    UserSeed,
    World,
    snowflake,
)

Json = dict[str, Any]

CHANNEL_TEXT = 0
CHANNEL_DM = 1
MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_SUPPRESS_EMBEDS = 1 << 2
# Discord's default upload limit for bots in an unboosted guild.
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def iso_time(unix: float) -> str:
    """Return Discord's ISO 8601 timestamp form for a Unix time."""
    return dt.datetime.fromtimestamp(unix, dt.UTC).isoformat(timespec="microseconds")


def user_json(user: UserSeed) -> Json:
    """Return a Discord user object."""
    return {
        "id": str(user.id),
        "username": user.name.lower().replace(" ", "_") if not user.bot else user.name,
        "discriminator": "0",
        "global_name": user.global_name or (None if user.bot else user.name),
        "avatar": None,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


@dataclass(slots=True)
class Attachment:
    """An uploaded file, kept in memory and served back under `/attachments/`."""

    id: int
    channel_id: int
    filename: str
    data: bytes
    content_type: str
    description: str | None = None

    def to_json(self, base_url: str, *, ephemeral: bool = False) -> Json:
        """Return Discord's attachment object, with URLs on the sandbox."""
        url = f"{base_url}/attachments/{self.channel_id}/{self.id}/{self.filename}"
        out: Json = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            out["description"] = self.description
        size = image_size(self.data)
        if size is not None:
            out["width"], out["height"] = size
        if ephemeral:
            out["ephemeral"] = True
        return out


def guess_content_type(filename: str, data: bytes) -> str:
    """Return the content type Discord would report for an upload."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    guessed, _ = mimetypes.guess_type(filename)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/"):
        return f"{guessed}; charset=utf-8"
    return guessed


def image_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) of a PNG or GIF, which Discord reports for images."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    return None


@dataclass(slots=True)
class Message:
    """A message the bot (or a webhook of its application) posted."""

    id: int
    channel_id: int
    guild_id: int | None
    author: UserSeed
    timestamp: float
    content: str = ""
    embeds: list[Json] = field(default_factory=list)
    components: list[Json] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    nonce: str | None = None
    edited_timestamp: float | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: Json | None = None
    edits: int = 0
    mentions: tuple[UserSeed, ...] = ()
    # What Discord resolved from the content under `allowed_mentions` when it was created.
    mention_roles: tuple[int, ...] = ()
    mention_everyone: bool = False
    message_reference: Json | None = None

    @property
    def ephemeral(self) -> bool:
        """Return whether only the interaction's user sees this message."""
        return bool(self.flags & MESSAGE_FLAG_EPHEMERAL)

    def delete_event(self) -> Json:
        """Return the MESSAGE_DELETE payload for this message."""
        data: Json = {"id": str(self.id), "channel_id": str(self.channel_id)}
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        return data

    def to_json(self, base_url: str) -> Json:
        """Return Discord's message object; `attachment://` URLs in embeds resolved."""
        attachments = [a.to_json(base_url, ephemeral=self.ephemeral) for a in self.attachments]
        by_name = {a["filename"]: a for a in attachments}
        out: Json = {
            "id": str(self.id),
            "type": self.type,
            "channel_id": str(self.channel_id),
            "author": user_json(self.author),
            "content": self.content,
            "timestamp": iso_time(self.timestamp),
            "edited_timestamp": (
                None if self.edited_timestamp is None else iso_time(self.edited_timestamp)
            ),
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": [user_json(u) for u in self.mentions],
            "mention_roles": [str(r) for r in self.mention_roles],
            "mention_channels": [],
            "attachments": attachments,
            "embeds": [resolve_embed(e, by_name) for e in self.embeds],
            "components": self.components,
            "reactions": [],
            "pinned": False,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            out["guild_id"] = str(self.guild_id)
        if self.nonce is not None:
            out["nonce"] = self.nonce
        if self.webhook_id is not None:
            out["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            out["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            out["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            out["message_reference"] = self.message_reference
        return out


def resolve_embed(embed: Json, attachments: dict[str, Json]) -> Json:
    """Return an embed as Discord stores it: type rich, `attachment://` URLs made real."""
    out: Json = {"type": "rich", **embed}
    for key, url_key in (
        ("image", "url"),
        ("thumbnail", "url"),
        ("author", "icon_url"),
        ("footer", "icon_url"),
    ):
        part = out.get(key)
        if not isinstance(part, dict):
            continue
        url = part.get(url_key)
        if isinstance(url, str) and url.startswith("attachment://"):
            att = attachments.get(url.removeprefix("attachment://"))
            if att is None:
                continue
            resolved = dict(part)
            resolved[url_key] = att["url"]
            proxy_key = "proxy_url" if url_key == "url" else f"proxy_{url_key}"
            resolved[proxy_key] = att["proxy_url"]
            if key in ("image", "thumbnail"):
                for dim in ("width", "height"):
                    if dim in att:
                        resolved[dim] = att[dim]
                resolved["content_type"] = att["content_type"]
            out[key] = resolved
    if "timestamp" in out and isinstance(out["timestamp"], str):
        out["timestamp"] = _normalise_timestamp(out["timestamp"])
    return out


def _normalise_timestamp(value: str) -> str:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat()


@dataclass(slots=True)
class Overwrite:
    """A channel permission overwrite for a role (type 0) or member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_json(self) -> Json:
        """Return Discord's overwrite object."""
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass(slots=True)
class Channel:
    """A guild text channel or a DM channel and the messages in it."""

    id: int
    name: str
    type: int
    guild_id: int | None
    position: int = 0
    topic: str | None = None
    recipient: UserSeed | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    # Discord has no "edit" permission; the control API can still make edits fail (50013).
    bot_can_edit: bool = True
    last_message_id: int | None = None

    def to_json(self) -> Json:
        """Return Discord's channel object."""
        if self.type == CHANNEL_DM:
            return {
                "id": str(self.id),
                "type": CHANNEL_DM,
                "last_message_id": _opt_str(self.last_message_id),
                "recipients": [user_json(self.recipient)] if self.recipient else [],
                "flags": 0,
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.to_json() for o in self.overwrites.values()],
            "parent_id": None,
            "topic": self.topic,
            "nsfw": False,
            "last_message_id": _opt_str(self.last_message_id),
            "rate_limit_per_user": 0,
            "flags": 0,
        }


@dataclass(slots=True)
class Member:
    """A user's membership of a guild."""

    user: UserSeed
    role_ids: list[int]
    joined_at: float

    def to_json(self, *, permissions: int | None = None) -> Json:
        """Return Discord's guild member object (with `permissions` inside interactions)."""
        out: Json = {
            "user": user_json(self.user),
            "nick": None,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.role_ids],
            "joined_at": iso_time(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            out["permissions"] = str(permissions)
        return out


def role_json(role: RoleSeed, position: int, bot_id: int) -> Json:
    """Return Discord's role object (the bot's managed role tagged with the bot's id)."""
    return {
        "id": str(role.id),
        "name": role.name,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
        # The sandbox's only managed role is the bot's own, which Discord tags with its id.
        "tags": {"bot_id": str(bot_id)} if role.managed else {},
    }


@dataclass(slots=True)
class Guild:
    """A guild the bot is in."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, RoleSeed]
    members: dict[int, Member]
    channels: dict[int, Channel]
    commands_scope: bool = True

    def member_permissions(self, user_id: int) -> int:
        """Return a member's guild-level permissions (roles combined)."""
        if user_id == self.owner_id:
            return Perm.ALL
        member = self.members.get(user_id)
        if member is None:
            return 0
        perms = self.roles[self.id].permissions
        for rid in member.role_ids:
            role = self.roles.get(rid)
            if role is not None:
                perms |= role.permissions
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        return perms

    def role_object(self, role_id: int, bot_id: int) -> Json:
        """Return a role as Discord sends it (in GUILD_ROLE_UPDATE, for one)."""
        return role_json(self.roles[role_id], list(self.roles).index(role_id), bot_id)

    def set_role_permissions(self, role_id: int, permissions: int) -> None:
        """Give a role new permissions; every permission check reads them from now on."""
        self.roles[role_id] = replace(self.roles[role_id], permissions=permissions)

    def member_update_event(self, user_id: int) -> Json:
        """Return the GUILD_MEMBER_UPDATE payload of a member as it is now."""
        return {"guild_id": str(self.id), **self.members[user_id].to_json()}

    def channel_permissions(self, user_id: int, channel: Channel) -> int:
        """Return a member's permissions in a channel, overwrites applied as Discord does."""
        base = self.member_permissions(user_id)
        if base == Perm.ALL:
            return Perm.ALL
        member = self.members.get(user_id)
        if member is None:
            return 0
        perms = base
        everyone = channel.overwrites.get(self.id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for rid in member.role_ids:
            ow = channel.overwrites.get(rid)
            if ow is not None and ow.type == 0:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = channel.overwrites.get(user_id)
        if own is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        return perms

    def to_json(self, bot_id: int, *, all_members: bool) -> Json:
        """Return the GUILD_CREATE payload: channels, roles, members (the bot at least)."""
        members = [m.to_json() for uid, m in self.members.items() if all_members or uid == bot_id]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "max_members": 500000,
            "max_video_channel_users": 25,
            "roles": [role_json(r, i, bot_id) for i, r in enumerate(self.roles.values())],
            "emojis": [],
            "stickers": [],
            "soundboard_sounds": [],
            "channels": [c.to_json() for c in self.channels.values()],
            "threads": [],
            "members": members,
            "member_count": len(self.members),
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "large": False,
            "unavailable": False,
            "lazy": True,
            "joined_at": iso_time(self.members[bot_id].joined_at),
        }


class IdGenerator:
    """Snowflakes for things made at runtime (messages, interactions, attachments)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._increment = itertools.count()
        self._last = 0

    def next(self) -> int:
        """Return a new, strictly increasing snowflake."""
        value = snowflake(int(self._clock.time() * 1000), next(self._increment))
        # Many ids in one millisecond (or a frozen fake clock) must still increase.
        self._last = max(value, self._last + 1)
        return self._last


class State:
    """Guilds, channels, users and messages of one sandbox run."""

    def __init__(self, world: World, clock: Clock) -> None:
        self.world = world
        self.clock = clock
        self.ids = IdGenerator(clock)
        self.bot = world.bot
        self.users: dict[int, UserSeed] = {u.id: u for u in (*world.users, world.bot)}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.attachments: dict[int, Attachment] = {}
        self.dm_channels: dict[int, int] = {}
        # Called with ("create" | "update" | "delete", message), ephemeral ones too (demo page).
        self.message_listeners: list[Callable[[str, Message], None]] = []
        for guild in world.guilds:
            self.add_guild(guild)

    def message_changed(self, kind: str, message: Message) -> None:
        """Tell the message listeners that a message was created, updated or deleted."""
        for listener in self.message_listeners:
            listener(kind, message)

    def add_guild(self, seed: GuildSeed) -> Guild:
        """Create a guild from a seed (ids already filled) and put the bot in it."""
        joined = self.clock.time() - 86_400
        members: dict[int, Member] = {}
        for user, role_names in self.world.iter_members(seed):
            role_ids = [r.id for r in seed.roles if r.name in role_names]
            members[user.id] = Member(user=user, role_ids=role_ids, joined_at=joined)
            self.users.setdefault(user.id, user)
        guild = Guild(
            id=seed.id,
            name=seed.name,
            owner_id=self.world.user(seed.owner).id,
            roles={r.id: r for r in seed.roles},
            members=members,
            channels={},
            commands_scope=seed.commands_scope,
        )
        for pos, ch in enumerate(seed.channels):
            guild.channels[ch.id] = self._make_channel(ch, guild.id, pos)
        self.guilds[guild.id] = guild
        for ch_obj in guild.channels.values():
            self.channels[ch_obj.id] = ch_obj
        return guild

    def _make_channel(self, seed: ChannelSeed, guild_id: int, position: int) -> Channel:
        return Channel(
            id=seed.id,
            name=seed.name,
            type=seed.type,
            guild_id=guild_id,
            position=position,
            topic=seed.topic,
        )

    def dm_channel(self, user: UserSeed) -> Channel:
        """Return (creating on first use) the DM channel between the bot and a user."""
        cid = self.dm_channels.get(user.id)
        if cid is not None and cid in self.channels:
            return self.channels[cid]
        channel = Channel(
            id=self.ids.next(), name="", type=CHANNEL_DM, guild_id=None, recipient=user
        )
        self.channels[channel.id] = channel
        self.dm_channels[user.id] = channel.id
        return channel

    def bot_permissions(self, channel: Channel) -> int:
        """Return the bot's permissions in a channel (everything in its DMs)."""
        if channel.guild_id is None:
            return Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS | Perm.ATTACH_FILES
        guild = self.guilds.get(channel.guild_id)
        if guild is None:
            # The bot was removed from that guild: Discord answers Missing Access, not Unknown.
            return 0
        return guild.channel_permissions(self.bot.id, channel)

    def add_message(self, message: Message) -> None:
        """Store a new message in its channel."""
        channel = self.channels[message.channel_id]
        channel.messages[message.id] = message
        channel.last_message_id = message.id
        self.messages[message.id] = message
        for att in message.attachments:
            self.attachments[att.id] = att
        self.message_changed("create", message)

    def remove_message(self, message: Message) -> None:
        """Forget a message and stop serving its attachments."""
        channel = self.channels.get(message.channel_id)
        if channel is not None:
            channel.messages.pop(message.id, None)
        self.messages.pop(message.id, None)
        for att in message.attachments:
            self.attachments.pop(att.id, None)
        self.message_changed("delete", message)

    def replace_attachments(self, old: list[Attachment], new: list[Attachment]) -> None:
        """Serve `new` and drop what an edit left out (a status graph re-uploaded every minute
        must not pile up in memory)."""
        keep = {a.id for a in new}
        for att in old:
            if att.id not in keep:
                self.attachments.pop(att.id, None)
        for att in new:
            self.attachments[att.id] = att

    def remove_channel(self, channel: Channel) -> None:
        """Delete a channel and its messages."""
        for message in list(channel.messages.values()):
            self.remove_message(message)
        self.channels.pop(channel.id, None)
        if channel.guild_id is not None:
            self.guilds[channel.guild_id].channels.pop(channel.id, None)

    def remove_guild(self, guild: Guild) -> None:
        """Take the bot out of a guild; its channels stay, out of the bot's reach (50001)."""
        self.guilds.pop(guild.id, None)

    def resolve_user(self, ref: str | int) -> UserSeed:
        """Return a user by name or id; KeyError if unknown."""
        for u in self.users.values():
            if u.name == ref or str(u.id) == str(ref):
                return u
        raise KeyError(f"unknown user {ref!r}")

    def resolve_channel(self, ref: str | int, guild_id: int | None = None) -> Channel:
        """Return a channel by id or name (within a guild if given); KeyError if unknown."""
        for c in self.channels.values():
            if str(c.id) == str(ref):
                return c
        for c in self.channels.values():
            if c.name == ref and (guild_id is None or c.guild_id == guild_id):
                return c
        raise KeyError(f"unknown channel {ref!r}")

    def resolve_role(self, guild: Guild, ref: str | int) -> RoleSeed:
        """Return a guild's role by id or name; KeyError if unknown."""
        for r in guild.roles.values():
            if str(r.id) == str(ref) or r.name == ref:
                return r
        raise KeyError(f"unknown role {ref!r} in guild {guild.name!r}")

    def resolve_guild(self, ref: str | int | None) -> Guild:
        """Return a guild by id or name (the first for None); KeyError if unknown."""
        for g in self.guilds.values():
            if ref is None or str(g.id) == str(ref) or g.name == ref:
                return g
        raise KeyError(f"unknown guild {ref!r}")


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)
