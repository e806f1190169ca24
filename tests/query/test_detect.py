"""Which protocol and address a server's game is asked at, from real eggs' names and images."""

from __future__ import annotations

import dataclasses

import pytest

from pterodisbot.panel.models import Allocation, Server
from pterodisbot.query import QueryOverride, QueryProtocol, QueryTarget, TargetSource
from pterodisbot.query.detect import detect_protocol, query_host, target_for
from tests.snapshots import make_server

MC = QueryProtocol.MINECRAFT
BEDROCK = QueryProtocol.BEDROCK
SOURCE = QueryProtocol.SOURCE
NONE = QueryProtocol.NONE


def game(
    egg: str | None,
    image: str = "",
    *,
    port: int = 25565,
    ip: str = "203.0.113.7",
    alias: str | None = None,
    variables: tuple[tuple[str, str], ...] = (),
    node_host: str | None = "node1.example.com",
) -> Server:
    """Return a server of `egg` on `image`, its default allocation at ip:port."""
    allocation = Allocation(id=1, ip=ip, ip_alias=alias, port=port, notes=None, is_default=True)
    return dataclasses.replace(
        make_server(allocations=(allocation,)),
        egg=egg,
        docker_image=image,
        variables=variables,
        node_host=node_host,
    )


# (egg name, Docker image, protocol): names and images of pterodactyl/panel's seeded eggs and
# parkervcp/eggs as they ship.
EGGS = [
    ("Paper", "ghcr.io/pterodactyl/yolks:java_21", MC),
    ("Vanilla Minecraft", "ghcr.io/pterodactyl/yolks:java_21", MC),
    ("Forge Minecraft", "ghcr.io/pterodactyl/yolks:java_17", MC),
    ("Forge Enhanced", "ghcr.io/pterodactyl/yolks:java_8", MC),
    ("NeoForge", "ghcr.io/pterodactyl/yolks:java_17", MC),
    ("Fabric", "ghcr.io/pterodactyl/yolks:java_8", MC),
    ("Sponge (SpongeVanilla)", "ghcr.io/pterodactyl/yolks:java_21", MC),
    ("Bungeecord", "ghcr.io/pterodactyl/yolks:java_21", MC),
    ("Velocity", "ghcr.io/pterodactyl/yolks:java_21", MC),
    ("Purpur-Geyser-Floodgate", "ghcr.io/pterodactyl/yolks:java_17", MC),
    ("FTB-modpacks.ch Server", "ghcr.io/pterodactyl/yolks:java_8", MC),
    ("CurseForge Generic", "ghcr.io/pterodactyl/yolks:java_8", MC),
    ("Vanilla Bedrock", "ghcr.io/parkervcp/yolks:debian", BEDROCK),
    ("PocketmineMP", "ghcr.io/parkervcp/yolks:debian", BEDROCK),
    ("Nukkit", "ghcr.io/parkervcp/yolks:java_11", BEDROCK),  # Java image, Bedrock game
    ("Waterdog PE", "ghcr.io/parkervcp/yolks:java_17", BEDROCK),
    ("Rust", "ghcr.io/pterodactyl/games:rust", SOURCE),
    ("Rust Autowipe", "ghcr.io/pterodactyl/games:rust", SOURCE),
    ("Counter-Strike 2", "ghcr.io/parkervcp/steamcmd:sniper", SOURCE),
    ("Counter-Strike: Global Offensive", "ghcr.io/pterodactyl/games:source", SOURCE),
    ("Ark: Survival Evolved", "quay.io/parkervcp/pterodactyl-images:debian_source", SOURCE),
    ("Valheim", "ghcr.io/parkervcp/games:valheim", SOURCE),
    ("Valheim Plus Mod", "ghcr.io/parkervcp/games:valheim", SOURCE),
    ("Palworld", "ghcr.io/parkervcp/steamcmd:debian", SOURCE),
    ("Garrys Mod", "ghcr.io/pterodactyl/games:source", SOURCE),
    ("Team Fortress 2", "ghcr.io/pterodactyl/games:source", SOURCE),
    ("Insurgency: Sandstorm", "ghcr.io/parkervcp/steamcmd:ubuntu", SOURCE),
    ("Conan Exiles", "ghcr.io/parkervcp/yolks:wine_latest", SOURCE),
    # Not asked: no A2S (ASA is on Epic's services), or another protocol entirely, though the
    # image is one a queried game uses.
    ("ARK: Survival Ascended", "ghcr.io/parkervcp/steamcmd:proton", NONE),
    ("Satisfactory", "ghcr.io/parkervcp/games:source", NONE),
    ("Teamspeak3 Server", "ghcr.io/pterodactyl/yolks:debian", NONE),
    ("Rising World Java Legacy", "ghcr.io/parkervcp/yolks:java_8", NONE),
    ("Terraria Vanilla", "ghcr.io/parkervcp/yolks:debian", NONE),
    ("node.js generic", "ghcr.io/parkervcp/yolks:nodejs_18", NONE),
    # The egg unknown or left out (no include=egg): the image decides.
    ("Custom Source Engine Game", "ghcr.io/pterodactyl/games:source", SOURCE),
    ("My Hub", "ghcr.io/pterodactyl/yolks:java_17", MC),
    ("Our Survival Pack", "ghcr.io/parkervcp/yolks:games_source", SOURCE),
    (None, "ghcr.io/pterodactyl/yolks:java_21", MC),
    (None, "ghcr.io/pterodactyl/games:rust", SOURCE),
    (None, "ghcr.io/parkervcp/yolks:wine_latest", NONE),
    (None, "", NONE),
]


@pytest.mark.parametrize(("egg", "image", "protocol"), EGGS)
def test_the_protocol_is_read_from_the_egg_then_the_image(
    egg: str | None, image: str, protocol: QueryProtocol
) -> None:
    assert detect_protocol(game(egg, image)) is protocol


@pytest.mark.parametrize(
    ("server", "port"),
    [
        # Minecraft Java and Bedrock answer on the game port.
        (game("Paper", port=25565), 25565),
        (game("Vanilla Bedrock", port=19132), 19132),
        # CS2 and Garry's Mod answer A2S on the game port.
        (game("Counter-Strike 2", port=27015), 27015),
        (game("Garrys Mod", port=27016), 27016),
        # Rust and ARK keep their query port in a startup variable (the server's value, else
        # the egg's default: what the panel renders).
        (game("Rust", port=28015, variables=(("QUERY_PORT", "28017"),)), 28017),
        (game("Ark: Survival Evolved", port=7777, variables=(("QUERY_PORT", "27015"),)), 27015),
        (
            game(
                "Astro Colony",
                "ghcr.io/parkervcp/games:source",
                variables=(("SERVER_QUERY_PORT", "27020"),),
            ),
            27020,
        ),
        # An empty or odd variable is no port: the game port.
        (game("Rust", port=28015, variables=(("QUERY_PORT", ""),)), 28015),
        (game("Rust", port=28015, variables=(("QUERY_PORT", "99999"),)), 28015),
        # Valheim answers on the port after the game port; Palworld on its default 27015.
        (game("Valheim", port=2456), 2457),
        (game(None, "ghcr.io/parkervcp/games:valheim", port=2456), 2457),
        (game("Palworld", port=8211), 27015),
        (game("Palworld", port=8211, variables=(("QUERY_PORT", "27020"),)), 27020),
        # A Minecraft server's QUERY_PORT (GameSpy) is not what Server List Ping asks.
        (game("Paper", port=25565, variables=(("QUERY_PORT", "25575"),)), 25565),
    ],
)
def test_the_port_is_the_query_port_the_egg_keeps_else_the_game_port(
    server: Server, port: int
) -> None:
    target = target_for(server)
    assert target is not None
    assert target.port == port
    assert target.source is TargetSource.DETECTED


def test_the_host_is_the_allocation_alias_else_its_ip_else_the_node_for_a_wildcard() -> None:
    assert query_host(game("Paper", alias="mc.example.com")) == "mc.example.com"
    assert query_host(game("Paper", ip="198.51.100.4")) == "198.51.100.4"
    assert query_host(game("Paper", ip="0.0.0.0")) == "node1.example.com"
    assert query_host(game("Paper", ip="0.0.0.0", alias="play.example.com")) == "play.example.com"
    assert query_host(game("Paper", ip="0.0.0.0", node_host=None)) is None
    no_allocation = dataclasses.replace(game("Paper"), allocations=())
    assert query_host(no_allocation) == "node1.example.com"


def test_a_detected_target_is_the_game_at_its_default_allocation() -> None:
    assert target_for(game("Paper", alias="mc.example.com", port=25566)) == QueryTarget(
        MC, "mc.example.com", 25566, TargetSource.DETECTED
    )


def test_the_override_wins_over_what_is_read_from_the_server() -> None:
    unknown = game("Our Own Game", "ghcr.io/parkervcp/yolks:wine_latest", port=7777)
    assert target_for(unknown) is None
    # The protocol alone: asked at the allocation's address and port.
    assert target_for(unknown, QueryOverride(protocol=SOURCE)) == QueryTarget(
        SOURCE, "203.0.113.7", 7777, TargetSource.CONFIGURED
    )
    # Host and port too: an operator's query port beats the egg's variable.
    rust = game("Rust", port=28015, variables=(("QUERY_PORT", "28017"),))
    assert target_for(rust, QueryOverride(host="rust.example.com", port=28099)) == QueryTarget(
        SOURCE, "rust.example.com", 28099, TargetSource.CONFIGURED
    )
    # A Minecraft egg the operator says is Bedrock (a Geyser bridge on its own port).
    assert target_for(game("Paper"), QueryOverride(protocol=BEDROCK, port=19132)) == QueryTarget(
        BEDROCK, "203.0.113.7", 19132, TargetSource.CONFIGURED
    )


def test_protocol_none_or_nowhere_to_ask_means_not_asked() -> None:
    assert target_for(game("Paper"), QueryOverride(protocol=NONE)) is None
    assert target_for(game("Paper", ip="0.0.0.0", node_host=None)) is None
    # A wildcard with no node name: the operator's host makes it askable.
    assert target_for(
        game("Paper", ip="0.0.0.0", node_host=None), QueryOverride(host="10.0.0.5")
    ) == QueryTarget(MC, "10.0.0.5", 25565, TargetSource.CONFIGURED)
