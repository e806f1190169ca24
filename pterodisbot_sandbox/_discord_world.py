"""The sandbox's seed: users, guilds, roles and channels, with Discord's permission bits."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
# Seed ids are snowflakes from a fixed instant, so the default world has the same ids every run.
SEED_EPOCH_MS = 1_700_000_000_000


class Perm:
    """Discord permission bits the sandbox looks at."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    ALL = (1 << 51) - 1


PERMISSION_NAMES: dict[str, int] = {
    "administrator": Perm.ADMINISTRATOR,
    "manage_channels": Perm.MANAGE_CHANNELS,
    "manage_guild": Perm.MANAGE_GUILD,
    "kick_members": Perm.KICK_MEMBERS,
    "ban_members": Perm.BAN_MEMBERS,
    "view_audit_log": Perm.VIEW_AUDIT_LOG,
    "add_reactions": Perm.ADD_REACTIONS,
    "view_channel": Perm.VIEW_CHANNEL,
    "send_messages": Perm.SEND_MESSAGES,
    "manage_messages": Perm.MANAGE_MESSAGES,
    "embed_links": Perm.EMBED_LINKS,
    "attach_files": Perm.ATTACH_FILES,
    "read_message_history": Perm.READ_MESSAGE_HISTORY,
    "mention_everyone": Perm.MENTION_EVERYONE,
    "use_application_commands": Perm.USE_APPLICATION_COMMANDS,
    "manage_roles": Perm.MANAGE_ROLES,
}

EVERYONE_PERMISSIONS = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
)
OPERATOR_PERMISSIONS = Perm.MANAGE_MESSAGES | Perm.VIEW_AUDIT_LOG
# What the bot's invite link would grant: enough to post and keep status embeds.
BOT_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
)


def snowflake(unix_ms: int, increment: int = 0) -> int:
    """Return a Discord snowflake for a time in Unix milliseconds."""
    return ((unix_ms - DISCORD_EPOCH_MS) << 22) | (increment & 0xFFF)


def parse_permissions(value: Any) -> int:
    """Turn an int, a numeric string or a list of permission names into a bit set."""
    if isinstance(value, bool):
        raise ValueError("permissions must be an integer or a list of names")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    if isinstance(value, Sequence):
        bits = 0
        for name in value:
            try:
                bits |= PERMISSION_NAMES[str(name).lower()]
            except KeyError:
                raise ValueError(f"unknown permission name {name!r}") from None
        return bits
    raise ValueError("permissions must be an integer or a list of names")


@dataclass(frozen=True, slots=True)
class UserSeed:
    """A Discord user of the sandbox, addressed by `name` in the control API."""

    name: str
    id: int = 0
    bot: bool = False
    global_name: str | None = None


@dataclass(frozen=True, slots=True)
class RoleSeed:
    """A guild role; `@everyone` takes the guild's id as Discord does."""

    name: str
    permissions: int = 0
    id: int = 0
    color: int = 0
    managed: bool = False
    hoist: bool = False


@dataclass(frozen=True, slots=True)
class ChannelSeed:
    """A guild channel (type 0 text by default)."""

    name: str
    id: int = 0
    type: int = 0
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class MemberSeed:
    """Membership of a user (by name) in a guild with role names."""

    user: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GuildSeed:
    """A guild: its owner (user name), roles, channels and members; the bot joins every guild."""

    name: str
    owner: str
    roles: tuple[RoleSeed, ...] = ()
    channels: tuple[ChannelSeed, ...] = ()
    members: tuple[MemberSeed, ...] = ()
    id: int = 0
    bot_permissions: int = BOT_PERMISSIONS
    # Whether the bot was invited with the applications.commands scope: without it Discord
    # answers 403 Missing Access to the guild's command routes.
    commands_scope: bool = True


@dataclass(frozen=True, slots=True)
class World:
    """Everything the sandbox starts with; ids left at 0 are filled in by `with_ids()`."""

    bot: UserSeed = field(default_factory=lambda: UserSeed(name="Pterodisbot", bot=True))
    application_id: int = 0
    users: tuple[UserSeed, ...] = ()
    guilds: tuple[GuildSeed, ...] = ()
    # A fresh Discord application has the privileged intents switched off.
    privileged_intents: bool = False

    @classmethod
    def default(cls, *, second_guild: bool = False) -> World:
        """Return one guild with #status, #alerts, #audit, roles Admin/Operator and 3 users.

        `outsider` exists but is in no guild; with `second_guild` it is a member of "Other
        Guild" (channel #general), which the bot has also joined.
        """
        users = (
            UserSeed("owner"),
            UserSeed("operator"),
            UserSeed("member"),
            UserSeed("outsider"),
        )
        main = GuildSeed(
            name="Pterodisbot Sandbox",
            owner="owner",
            roles=(
                RoleSeed("@everyone", EVERYONE_PERMISSIONS),
                RoleSeed("Admin", Perm.ADMINISTRATOR, color=0xE74C3C, hoist=True),
                RoleSeed("Operator", OPERATOR_PERMISSIONS, color=0x3498DB),
            ),
            channels=(
                ChannelSeed("status", topic="Live server status"),
                ChannelSeed("alerts"),
                ChannelSeed("audit"),
            ),
            members=(
                MemberSeed("owner", ("Admin",)),
                MemberSeed("operator", ("Operator",)),
                MemberSeed("member"),
            ),
        )
        guilds = [main]
        if second_guild:
            guilds.append(
                GuildSeed(
                    name="Other Guild",
                    owner="outsider",
                    roles=(RoleSeed("@everyone", EVERYONE_PERMISSIONS),),
                    channels=(ChannelSeed("general"),),
                    members=(MemberSeed("outsider"),),
                )
            )
        return cls(users=users, guilds=tuple(guilds)).with_ids()

    @classmethod
    def from_json(cls, source: Mapping[str, Any] | str | Path) -> World:
        """Build a world from a mapping or a JSON file; see `to_json()` for the shape."""
        data: Any
        if isinstance(source, Mapping):
            data = source
        else:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        if not isinstance(data, Mapping):
            raise ValueError("a world is a JSON object")
        bot = data.get("bot", {})
        users = tuple(
            UserSeed(name=str(u["name"]), id=int(u.get("id", 0)), global_name=u.get("global_name"))
            for u in data.get("users", ())
        )
        guilds = tuple(guild_from_json(g) for g in data.get("guilds", ()))
        world = cls(
            bot=UserSeed(
                name=str(bot.get("name", "Pterodisbot")), id=int(bot.get("id", 0)), bot=True
            ),
            application_id=int(data.get("application_id", 0)),
            users=users,
            guilds=guilds,
            privileged_intents=bool(data.get("privileged_intents", False)),
        )
        return world.with_ids()

    def with_ids(self) -> World:
        """Return a copy whose zero ids are deterministic snowflakes; check references."""
        counter = itertools.count(1)

        def next_id(current: int) -> int:
            n = next(counter)
            return current or snowflake(SEED_EPOCH_MS + n * 1000, n)

        bot = replace(self.bot, id=next_id(self.bot.id), bot=True)
        application_id = self.application_id or bot.id
        users = tuple(replace(u, id=next_id(u.id)) for u in self.users)
        names = [u.name for u in users]
        if len(set(names)) != len(names) or bot.name in names:
            raise ValueError("user names must be unique (and differ from the bot's)")
        guilds = []
        for g in self.guilds:
            gid = next_id(g.id)
            roles = list(g.roles)
            if not any(r.name == "@everyone" for r in roles):
                roles.insert(0, RoleSeed("@everyone", EVERYONE_PERMISSIONS))
            roles = [replace(r, id=gid if r.name == "@everyone" else next_id(r.id)) for r in roles]
            if not any(r.managed for r in roles):
                roles.append(RoleSeed(bot.name, g.bot_permissions, id=next_id(0), managed=True))
            channels = tuple(replace(c, id=next_id(c.id)) for c in g.channels)
            role_names = {r.name for r in roles}
            for m in g.members:
                if m.user not in names:
                    raise ValueError(f"guild {g.name!r}: member {m.user!r} is not a user")
                unknown = set(m.roles) - role_names
                if unknown:
                    raise ValueError(f"guild {g.name!r}: unknown roles {sorted(unknown)}")
            if g.owner not in names:
                raise ValueError(f"guild {g.name!r}: owner {g.owner!r} is not a user")
            members = g.members
            if not any(m.user == g.owner for m in members):
                members = (MemberSeed(g.owner), *members)
            guilds.append(
                replace(g, id=gid, roles=tuple(roles), channels=channels, members=members)
            )
        return replace(
            self, bot=bot, application_id=application_id, users=users, guilds=tuple(guilds)
        )

    def user(self, name_or_id: str | int) -> UserSeed:
        """Return the user (or the bot) by name or id; KeyError if unknown."""
        for u in (*self.users, self.bot):
            if u.name == name_or_id or str(u.id) == str(name_or_id):
                return u
        raise KeyError(f"unknown user {name_or_id!r}")

    def guild(self, name_or_id: str | int | None = None) -> GuildSeed:
        """Return a guild by name or id (the first one for None); KeyError if unknown."""
        for g in self.guilds:
            if name_or_id is None or g.name == name_or_id or str(g.id) == str(name_or_id):
                return g
        raise KeyError(f"unknown guild {name_or_id!r}")

    def channel(self, name_or_id: str | int, guild: str | int | None = None) -> ChannelSeed:
        """Return a seeded channel by name or id, searching one guild or all."""
        for g in self.guilds if guild is None else (self.guild(guild),):
            for c in g.channels:
                if c.name == name_or_id or str(c.id) == str(name_or_id):
                    return c
        raise KeyError(f"unknown channel {name_or_id!r}")

    def role(self, name_or_id: str | int, guild: str | int | None = None) -> RoleSeed:
        """Return a role by name or id in one guild (the first by default)."""
        for r in self.guild(guild).roles:
            if r.name == name_or_id or str(r.id) == str(name_or_id):
                return r
        raise KeyError(f"unknown role {name_or_id!r}")

    def to_json(self) -> dict[str, Any]:
        """Return the world as JSON-ready data, ids as strings (the `/_sandbox/world` answer)."""
        return {
            "application_id": str(self.application_id),
            "bot": {"name": self.bot.name, "id": str(self.bot.id)},
            "privileged_intents": self.privileged_intents,
            "users": [{"name": u.name, "id": str(u.id)} for u in self.users],
            "guilds": [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "owner": g.owner,
                    "roles": [
                        {
                            "id": str(r.id),
                            "name": r.name,
                            "permissions": str(r.permissions),
                            "managed": r.managed,
                        }
                        for r in g.roles
                    ],
                    "channels": [
                        {"id": str(c.id), "name": c.name, "type": c.type} for c in g.channels
                    ],
                    "members": [{"user": m.user, "roles": list(m.roles)} for m in g.members],
                    "commands_scope": g.commands_scope,
                }
                for g in self.guilds
            ],
        }

    def iter_members(self, guild: GuildSeed) -> Iterator[tuple[UserSeed, tuple[str, ...]]]:
        """Yield each member of a guild with role names, the bot last."""
        for m in guild.members:
            yield self.user(m.user), m.roles
        bot_role = next(r.name for r in guild.roles if r.managed)
        yield self.bot, (bot_role,)


def guild_from_json(g: Mapping[str, Any]) -> GuildSeed:
    """Build a guild seed from its JSON form (see `World.to_json()`)."""
    roles = tuple(
        RoleSeed(
            name=str(r["name"]),
            permissions=parse_permissions(r.get("permissions", 0)),
            id=int(r.get("id", 0)),
            color=int(r.get("color", 0)),
            managed=bool(r.get("managed", False)),
        )
        for r in g.get("roles", ())
    )
    channels = tuple(
        ChannelSeed(
            name=str(c["name"]),
            id=int(c.get("id", 0)),
            type=int(c.get("type", 0)),
            topic=c.get("topic"),
        )
        for c in g.get("channels", ())
    )
    members = tuple(
        MemberSeed(user=str(m["user"]), roles=tuple(str(r) for r in m.get("roles", ())))
        for m in g.get("members", ())
    )
    return GuildSeed(
        name=str(g["name"]),
        owner=str(g["owner"]),
        roles=roles,
        channels=channels,
        members=members,
        id=int(g.get("id", 0)),
        bot_permissions=parse_permissions(g.get("bot_permissions", BOT_PERMISSIONS)),
        commands_scope=bool(g.get("commands_scope", True)),
    )
