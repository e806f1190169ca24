"""`/api/servers` data (pure): the address is the one players type, or left out when hidden."""

from __future__ import annotations

from pterodisbot.panel.models import Allocation
from pterodisbot.web.snapshot import server_json
from tests.snapshots import make_server, make_snapshot


def _allocation(ip: str, alias: str | None = None) -> Allocation:
    return Allocation(id=1, ip=ip, ip_alias=alias, port=25565, notes=None, is_default=True)


def test_address_is_the_alias_or_ip_with_the_port_and_ipv6_in_brackets() -> None:
    for allocation, expected in (
        (_allocation("203.0.113.7"), "203.0.113.7:25565"),
        (_allocation("203.0.113.7", "mc.example.com"), "mc.example.com:25565"),
        (_allocation("2001:db8::7"), "[2001:db8::7]:25565"),
    ):
        snap = make_snapshot(server=make_server(allocations=(allocation,)))
        assert server_json(snap, show_address=True)["address"] == expected


def test_address_is_left_out_when_hidden_or_unknown() -> None:
    assert "address" not in server_json(make_snapshot(), show_address=False)
    no_allocation = make_snapshot(server=make_server(allocations=()))
    assert "address" not in server_json(no_allocation, show_address=True)
