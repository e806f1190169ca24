"""Parsing the panel's JSON (shapes from pterodactyl/panel's client transformers) into values."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from pterodisbot.panel.errors import PanelBadResponse
from pterodisbot.panel.models import (
    Account,
    Allocation,
    Limits,
    Page,
    PowerSignal,
    PowerState,
    Resources,
    Server,
    WebsocketCredentials,
)


def allocation(id_: int, port: int, *, default: bool, alias: str | None = None) -> dict[str, Any]:
    return {
        "object": "allocation",
        "attributes": {
            "id": id_,
            "ip": "203.0.113.10",
            "ip_alias": alias,
            "port": port,
            "notes": None,
            "is_default": default,
        },
    }


def server_item() -> dict[str, Any]:
    """Return a server as ServerTransformer (panel 1.11) renders it, relationships included."""
    return {
        "object": "server",
        "attributes": {
            "server_owner": True,
            "identifier": "1a7ce997",
            "internal_id": 7,
            "uuid": "1a7ce997-259b-452e-8b4e-cecc464142ca",
            "name": "Survival",
            "node": "fra-1",
            "is_node_under_maintenance": False,
            "sftp_details": {"ip": "fra-1.example.com", "port": 2022},
            "description": "The main world",
            "limits": {
                "memory": 4096,
                "swap": 0,
                "disk": 20480,
                "io": 500,
                "cpu": 200,
                "threads": None,
                "oom_disabled": True,
            },
            "invocation": "java -Xms128M -Xmx4096M -jar server.jar",
            "docker_image": "ghcr.io/pterodactyl/yolks:java_21",
            "egg_features": ["eula", "java_version"],
            "feature_limits": {"databases": 1, "allocations": 2, "backups": 3},
            "status": None,
            "is_suspended": False,
            "is_installing": False,
            "is_transferring": False,
            "relationships": {
                "allocations": {
                    "object": "list",
                    "data": [
                        allocation(12, 25566, default=False),
                        allocation(11, 25565, default=True, alias="mc.example.com"),
                    ],
                },
                "variables": {"object": "null_resource", "attributes": None},
            },
        },
    }


def stats_item(state: str = "running") -> dict[str, Any]:
    return {
        "object": "stats",
        "attributes": {
            "current_state": state,
            "is_suspended": False,
            "resources": {
                "memory_bytes": 1_610_612_736,
                "cpu_absolute": 87.512,
                "disk_bytes": 3_221_225_472,
                "network_rx_bytes": 12_345,
                "network_tx_bytes": 67_890,
                "uptime": 3_600_000,
            },
        },
    }


def list_body(items: list[dict[str, Any]], *, links: object, page: int = 1) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "meta": {
            "pagination": {
                "total": len(items),
                "count": len(items),
                "per_page": 100,
                "current_page": page,
                "total_pages": 1,
                "links": links,
            }
        },
    }


def test_server_parses_with_primary_allocation_first_and_its_address() -> None:
    server = Server.from_api(server_item())

    assert server.identifier == "1a7ce997"
    assert server.internal_id == 7
    assert server.node == "fra-1"
    assert server.limits == Limits(
        memory=4096, swap=0, disk=20480, io=500, cpu=200, threads=None, oom_disabled=True
    )
    assert [a.port for a in server.allocations] == [25565, 25566]
    assert server.primary_allocation is not None
    assert server.primary_allocation.address == "mc.example.com:25565"
    assert server.allocations[1].address == "203.0.113.10:25566"
    assert server.status is None
    assert not server.is_suspended


def test_server_tolerates_fields_it_does_not_use() -> None:
    item = server_item()
    item["attributes"]["renewable"] = True
    item["attributes"]["limits"]["cpu_pinning"] = "whatever"
    item["meta"] = {"is_server_owner": True, "user_permissions": ["*"]}

    assert Server.from_api(item).name == "Survival"


def test_server_without_visible_allocations_has_no_primary_allocation() -> None:
    item = server_item()
    item["attributes"]["relationships"]["allocations"] = {
        "object": "null_resource",
        "attributes": None,
    }
    assert Server.from_api(item).primary_allocation is None

    del item["attributes"]["relationships"]
    assert Server.from_api(item).allocations == ()

    item["attributes"]["relationships"] = []  # PHP's empty associative array
    assert Server.from_api(item).allocations == ()


def test_server_from_older_panel_or_pelican_fills_absent_optional_fields() -> None:
    item = server_item()
    attributes = item["attributes"]
    del attributes["is_node_under_maintenance"]  # before panel 1.11
    del attributes["description"]  # Pelican with non-editable descriptions
    limits = attributes["limits"]
    del limits["oom_disabled"]
    limits["oom_killer"] = False  # Pelican's name for the same switch, inverted
    limits["threads"] = "0-3"

    server = Server.from_api(item)

    assert server.is_node_under_maintenance is False
    assert server.description == ""
    assert server.limits.oom_disabled is True
    assert server.limits.threads == "0-3"


def test_server_missing_cpu_limit_names_the_field() -> None:
    item = server_item()
    del item["attributes"]["limits"]["cpu"]

    with pytest.raises(PanelBadResponse) as caught:
        Server.from_api(item)

    assert caught.value.field == "attributes.limits.cpu"
    assert "attributes.limits.cpu" in str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a.__setitem__("identifier", None), "attributes.identifier"),
        (lambda a: a.__setitem__("internal_id", "7"), "attributes.internal_id"),
        (lambda a: a.__setitem__("is_suspended", 0), "attributes.is_suspended"),
        (lambda a: a["limits"].__setitem__("memory", True), "attributes.limits.memory"),
        (lambda a: a.__setitem__("limits", []), "attributes.limits"),
        (
            lambda a: a["relationships"]["allocations"]["data"][1]["attributes"].pop("port"),
            "attributes.relationships.allocations.data[1].attributes.port",
        ),
        (
            lambda a: a["relationships"]["allocations"].__setitem__("data", {}),
            "attributes.relationships.allocations.data",
        ),
    ],
)
def test_server_with_malformed_field_names_its_path(mutate: Any, field: str) -> None:
    item = server_item()
    mutate(item["attributes"])

    with pytest.raises(PanelBadResponse) as caught:
        Server.from_api(item)

    assert caught.value.field == field


def test_server_without_attributes_names_attributes() -> None:
    with pytest.raises(PanelBadResponse) as caught:
        Server.from_api({"object": "server"})
    assert caught.value.field == "attributes"

    with pytest.raises(PanelBadResponse) as caught:
        Server.from_api(["not", "an", "object"])
    assert caught.value.field is None
    assert "<root>" in str(caught.value)


def test_integral_float_counts_as_integer_but_fraction_does_not() -> None:
    item = server_item()
    item["attributes"]["limits"]["memory"] = 4096.0
    assert Server.from_api(item).limits.memory == 4096

    item["attributes"]["limits"]["memory"] = 4096.5
    with pytest.raises(PanelBadResponse) as caught:
        Server.from_api(item)
    assert caught.value.field == "attributes.limits.memory"


def test_resources_parse_state_and_usage() -> None:
    resources = Resources.from_api(stats_item())

    assert resources == Resources(
        state=PowerState.RUNNING,
        is_suspended=False,
        memory_bytes=1_610_612_736,
        cpu_absolute=87.512,
        disk_bytes=3_221_225_472,
        network_rx_bytes=12_345,
        network_tx_bytes=67_890,
        uptime_ms=3_600_000,
    )


def test_resources_accept_integer_cpu_and_the_panels_stopped_fallback() -> None:
    item = stats_item("stopped")  # StatsTransformer's default when Wings omits the state
    item["attributes"]["resources"]["cpu_absolute"] = 0

    resources = Resources.from_api(item)

    assert resources.state is PowerState.OFFLINE
    assert resources.cpu_absolute == 0.0


def test_resources_with_unknown_state_or_missing_uptime_name_the_field() -> None:
    with pytest.raises(PanelBadResponse) as caught:
        Resources.from_api(stats_item("exploding"))
    assert caught.value.field == "attributes.current_state"

    item = stats_item()
    del item["attributes"]["resources"]["uptime"]
    with pytest.raises(PanelBadResponse) as caught:
        Resources.from_api(item)
    assert caught.value.field == "attributes.resources.uptime"


def test_list_page_accepts_links_as_object_or_empty_list() -> None:
    items = [server_item()]
    variants: tuple[object, ...] = ({}, [], {"next": "https://panel.example.com/api/client?page=2"})
    for links in variants:
        page = Page.from_api(list_body(items, links=links))
        assert page.total_pages == 1
        assert [Server.from_api(item, path=path).name for item, path in page.items] == ["Survival"]


def test_list_item_errors_name_the_items_index() -> None:
    broken = server_item()
    del broken["attributes"]["name"]
    page = Page.from_api(list_body([server_item(), broken], links={}))

    item, path = page.items[1]
    with pytest.raises(PanelBadResponse) as caught:
        Server.from_api(item, path=path)

    assert caught.value.field == "data[1].attributes.name"


def test_list_without_pagination_names_the_field() -> None:
    body = list_body([], links={})
    del body["meta"]["pagination"]["total_pages"]

    with pytest.raises(PanelBadResponse) as caught:
        Page.from_api(body)

    assert caught.value.field == "meta.pagination.total_pages"


def test_websocket_credentials_hide_the_token_from_repr() -> None:
    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.secret-claims.signature"
    credentials = WebsocketCredentials.from_api(
        {"data": {"token": token, "socket": "wss://fra-1.example.com:8080/api/servers/x/ws"}}
    )

    assert credentials.token == token
    assert token not in repr(credentials)
    assert token not in str(credentials)
    assert "wss://fra-1.example.com:8080" in repr(credentials)


def test_websocket_credentials_reject_a_socket_that_is_not_a_websocket_url() -> None:
    with pytest.raises(PanelBadResponse) as caught:
        WebsocketCredentials.from_api({"data": {"token": "t", "socket": "https://x"}})
    assert caught.value.field == "data.socket"


def test_account_parses_the_keys_user() -> None:
    account = Account.from_api(
        {
            "object": "user",
            "attributes": {
                "id": 1,
                "admin": True,
                "username": "admin",
                "email": "admin@example.com",
                "first_name": "Ada",
                "last_name": "Admin",
                "language": "en",
            },
        }
    )
    assert account.admin is True
    assert account.username == "admin"


def test_allocation_address_brackets_ipv6() -> None:
    item = allocation(1, 27015, default=True)
    item["attributes"]["ip"] = "2001:db8::10"

    assert Allocation.from_api(item).address == "[2001:db8::10]:27015"


def test_values_are_frozen_and_slotted() -> None:
    server = Server.from_api(server_item())
    resources = Resources.from_api(stats_item())

    with pytest.raises(dataclasses.FrozenInstanceError):
        server.name = "renamed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        resources.cpu_absolute = 1.0  # type: ignore[misc]
    assert not hasattr(server, "__dict__")
    assert copy.copy(server) == server


def test_power_enums_carry_the_panels_words() -> None:
    assert [s.value for s in PowerState] == ["offline", "starting", "running", "stopping"]
    assert [s.value for s in PowerSignal] == ["start", "stop", "restart", "kill"]
    assert PowerSignal("restart") is PowerSignal.RESTART


def test_limits_in_bytes_are_none_when_unlimited() -> None:
    limited = Limits(
        memory=4096, swap=0, disk=20480, io=500, cpu=200, threads=None, oom_disabled=True
    )
    unlimited = Limits(memory=0, swap=-1, disk=0, io=500, cpu=0, threads=None, oom_disabled=True)
    assert limited.memory_bytes == 4 * 1024**3
    assert limited.disk_bytes == 20 * 1024**3
    assert unlimited.memory_bytes is None
    assert unlimited.disk_bytes is None


def variable(env: str, server_value: object, default_value: object = "") -> dict[str, Any]:
    """Return a startup variable as EggVariableTransformer renders it."""
    return {
        "object": "egg_variable",
        "attributes": {
            "name": env.title(),
            "description": "",
            "env_variable": env,
            "default_value": default_value,
            "server_value": server_value,
            "is_editable": True,
            "rules": "required|string",
        },
    }


def test_server_parses_what_the_game_queries_read_image_egg_variables_and_node_host() -> None:
    item = server_item()
    relationships = item["attributes"]["relationships"]
    relationships["egg"] = {
        "object": "egg",
        "attributes": {"uuid": "5a3f1e0c-0000-4000-8000-000000000001", "name": "Paper"},
    }
    relationships["variables"] = {
        "object": "list",
        "data": [
            variable("SERVER_JARFILE", "server.jar"),
            variable("QUERY_PORT", None, default_value="27015"),  # never set: the default
            variable("MAX_PLAYERS", 40),  # a number where a string was expected
            variable("BUILD_NUMBER", None, default_value=None),
        ],
    }

    server = Server.from_api(item)

    assert server.docker_image == "ghcr.io/pterodactyl/yolks:java_21"
    assert server.egg == "Paper"
    assert server.variables == (
        ("SERVER_JARFILE", "server.jar"),
        ("QUERY_PORT", "27015"),
        ("MAX_PLAYERS", "40"),
        ("BUILD_NUMBER", ""),
    )
    assert server.variable("QUERY_PORT") == "27015"
    assert server.variable("RCON_PORT") is None
    assert server.node_host == "fra-1.example.com"


def test_server_without_egg_or_readable_variables_has_none_and_stays_readable() -> None:
    item = server_item()  # no include=egg; variables hidden (no startup.read): null_resource
    server = Server.from_api(item)
    assert (server.egg, server.variables) == (None, ())

    attributes = item["attributes"]
    del attributes["docker_image"]
    del attributes["sftp_details"]
    attributes["relationships"]["egg"] = {"object": "null_resource", "attributes": None}
    server = Server.from_api(item)
    assert (server.docker_image, server.egg, server.node_host) == ("", None, None)


@pytest.mark.parametrize(
    ("field", "odd"),
    [
        ("egg", {"object": "egg", "attributes": {"name": 7}}),
        ("egg", ["not", "an", "item"]),
        ("variables", {"object": "list", "data": "nope"}),
        ("variables", {"object": "list", "data": [{"attributes": {"env_variable": None}}]}),
    ],
)
def test_an_odd_egg_or_variable_is_left_out_never_hiding_the_server(field: str, odd: Any) -> None:
    item = server_item()
    item["attributes"]["relationships"][field] = odd
    server = Server.from_api(item)
    assert server.identifier == "1a7ce997"
    assert (server.egg, server.variables) == (None, ())


def test_pelican_server_parses_the_same_fields() -> None:
    item = server_item()
    attributes = item["attributes"]
    # Pelican's transformer: an SFTP alias beside the FQDN, oom_killer, the same relationships.
    attributes["sftp_details"] = {"ip": "node1.example.net", "alias": "sftp.example", "port": 2022}
    attributes["docker_image"] = "ghcr.io/parkervcp/games:source"
    attributes["relationships"]["egg"] = {"object": "egg", "attributes": {"name": "Rust"}}
    attributes["relationships"]["variables"] = {
        "object": "list",
        "data": [variable("QUERY_PORT", "28017")],
    }
    server = Server.from_api(item)
    assert server.node_host == "node1.example.net"
    assert (server.docker_image, server.egg) == ("ghcr.io/parkervcp/games:source", "Rust")
    assert server.variable("QUERY_PORT") == "28017"
