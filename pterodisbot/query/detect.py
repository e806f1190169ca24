"""Decide how and where a server's game is asked: from its egg, its Docker image, `[query.<id>]`.

Pure: reads the panel's `Server` and the operator's override, asks nothing. The egg's name
says the most (the Docker image is shared by many games: `games:source` also runs Satisfactory,
`yolks:java_*` also runs Bedrock servers written in Java), so it is read first; the image is
the fallback for eggs this table does not know; anything else is not asked.

Names, images and port variables are those of the eggs shipped with the panel
(pterodactyl/panel `database/Seeders/eggs`) and of the community's (parkervcp/eggs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from pterodisbot.panel.models import Server
from pterodisbot.query._model import QueryOverride, QueryProtocol, QueryTarget, TargetSource

__all__ = ["detect_protocol", "query_host", "target_for"]

# The startup variables Source eggs keep their query port in, most common first (Rust, ARK,
# Conan Exiles, Squad, V Rising, Insurgency: Sandstorm: QUERY_PORT; Astro Colony:
# SERVER_QUERY_PORT; Citadel: QPORT).
QUERY_PORT_VARIABLES: Final[tuple[str, ...]] = ("QUERY_PORT", "SERVER_QUERY_PORT", "QPORT")

# Addresses a game binds to that nobody can connect to: the node's name is asked instead.
_WILDCARDS: Final = frozenset({"0.0.0.0", "::", "[::]", ""})


@dataclass(frozen=True, slots=True)
class _Game:
    """A family of eggs: how its games answer, and where when not at the game port."""

    pattern: re.Pattern[str]
    protocol: QueryProtocol
    # Added to the game port when the game answers on the next port (Valheim).
    port_offset: int = 0
    # The port the game answers on when no variable names one (Palworld's default).
    default_port: int | None = None


def _game(
    words: str,
    protocol: QueryProtocol,
    *,
    port_offset: int = 0,
    default_port: int | None = None,
) -> _Game:
    return _Game(re.compile(words, re.IGNORECASE), protocol, port_offset, default_port)


# First match wins: the games that look like another come before it ("Vanilla Bedrock" is not
# "Vanilla Minecraft"; "ARK: Survival Ascended" answers no A2S, unlike Evolved).
_EGGS: Final[tuple[_Game, ...]] = (
    # Eggs whose game answers neither protocol, though their image or name looks like one.
    _game(
        r"ark: survival ascended|satisfactory|starbound|don'?t starve|teamspeak|mumble"
        r"|rising world|craftopia|discord|\bbot\b|musicbot|lavalink",
        QueryProtocol.NONE,
    ),
    _game(
        r"bedrock|pocketmine|nukkit|gomint|waterdog ?pe",
        QueryProtocol.BEDROCK,
    ),
    _game(
        r"minecraft|\b(paper|purpur|folia|spigot|bukkit|forge|neoforge|fabric|quilt|sponge"
        r"|bungeecord|waterfall|velocity|travertine|mohist|magma|glowstone|curseforge"
        r"|modrinth|ftb|feed the beast|tekkit|technic|vanillacord|limbo|nanolimbo|cuberite)\b",
        QueryProtocol.MINECRAFT,
    ),
    _game(r"valheim", QueryProtocol.SOURCE, port_offset=1),
    _game(r"palworld", QueryProtocol.SOURCE, default_port=27015),
    _game(
        r"\brust\b|counter.?strike|\bcs2\b|\bcs:?go\b|garry'?s ?mod|\bgmod\b"
        r"|ark: survival evolved|team fortress|left ?4 ?dead|insurgency|day of defeat"
        r"|half.?life|black mesa|source engine|\b(re)?hlds\b|\bsrcds\b|conan exiles|squad"
        r"|v rising|sons of the forest|the forest|killing floor|mordhau|7 days to die|unturned"
        r"|no more room in hell|nmrih|fistful of frags",
        QueryProtocol.SOURCE,
    ),
)

# Docker images, for eggs the table above does not know (a custom egg of a known game).
_IMAGES: Final[tuple[_Game, ...]] = (
    _game(r"games:valheim", QueryProtocol.SOURCE, port_offset=1),
    _game(r"games:rust|[:/_-]source\b|srcds", QueryProtocol.SOURCE),
    _game(r"yolks:java_|openjdk|eclipse-temurin|minecraft", QueryProtocol.MINECRAFT),
)


def _family(server: Server) -> _Game | None:
    """Return the family the server's egg, else its Docker image, belongs to."""
    if server.egg:
        for game in _EGGS:
            if game.pattern.search(server.egg):
                return game
    if server.docker_image:
        for game in _IMAGES:
            if game.pattern.search(server.docker_image):
                return game
    return None


def detect_protocol(server: Server) -> QueryProtocol:
    """Return how the server's game answers, read from its egg, then its image; NONE if unknown."""
    family = _family(server)
    return QueryProtocol.NONE if family is None else family.protocol


def query_host(server: Server) -> str | None:
    """Return the address players reach the default allocation at (its alias, else its IP).

    A game bound to every address (0.0.0.0) is reached at its node: the node's FQDN, which the
    panel gives for SFTP. None when neither is known.
    """
    allocation = server.primary_allocation
    if allocation is None:
        return server.node_host
    if allocation.ip_alias:
        return allocation.ip_alias
    if allocation.ip.strip() in _WILDCARDS:
        return server.node_host
    return allocation.ip


def _port_variable(server: Server) -> int | None:
    """Return the query port a Source egg's startup variable names, None when none does."""
    for name in QUERY_PORT_VARIABLES:
        value = (server.variable(name) or "").strip()
        if value.isdigit() and 1 <= int(value) <= 65535:
            return int(value)
    return None


def _query_port(server: Server, protocol: QueryProtocol, family: _Game | None) -> int | None:
    """Return the port the game answers on: a query-port variable, its rule, the game port."""
    allocation = server.primary_allocation
    game_port = allocation.port if allocation is not None else None
    if protocol is QueryProtocol.SOURCE:
        variable = _port_variable(server)
        if variable is not None:
            return variable
    if family is not None and family.protocol is protocol:
        if family.default_port is not None:
            return family.default_port
        if game_port is not None and family.port_offset:
            return game_port + family.port_offset
    return game_port


def target_for(server: Server, override: QueryOverride | None = None) -> QueryTarget | None:
    """Return where and how to ask the server's game, or None when it is not asked.

    `override` is the server's `[query.<id>]` section: its protocol, host and port win over
    what is read from the server; `protocol = none` means never ask.
    """
    override = override or QueryOverride()
    family = _family(server)
    protocol = override.protocol or (family.protocol if family else QueryProtocol.NONE)
    if protocol is QueryProtocol.NONE:
        return None
    host = override.host or query_host(server)
    port = override.port or _query_port(server, protocol, family)
    if host is None or port is None:
        return None
    configured = (override.protocol, override.host, override.port) != (None, None, None)
    return QueryTarget(
        protocol=protocol,
        host=host,
        port=port,
        source=TargetSource.CONFIGURED if configured else TargetSource.DETECTED,
    )
