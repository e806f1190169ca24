"""Overloads, stuck servers, unreadable servers, nodes, the panel, flapping: one incident each."""

from __future__ import annotations

from pterodisbot.alerts import PANEL_SUBJECT, Change, Rule
from pterodisbot.monitor import ReadFault, ServerStatus
from tests.alerts.engine_rig import CYCLE, SERVER, Rig, server, summary

ID = SERVER.identifier
RUNNING, OFFLINE = ServerStatus.RUNNING, ServerStatus.OFFLINE
# SERVER's limits: 200 % CPU, 4096 MiB memory, 10240 MiB disk; thresholds 95 %.
CPU_OVER, CPU_UNDER = 195.0, 100.0


def test_cpu_spike_shorter_than_overload_for_never_fires() -> None:
    rig = Rig()
    assert rig.run(290, cpu_percent=CPU_OVER) == []
    assert rig.run(600, cpu_percent=CPU_UNDER) == []


def test_cpu_over_for_overload_for_fires_once_and_clears_after_the_quiet_period() -> None:
    rig = Rig()
    over_since = rig.now
    assert rig.run(300, cpu_percent=CPU_OVER) == []
    [opened] = rig.see(cpu_percent=199.0)
    assert (opened.change, opened.incident.rule) == (Change.OPENED, Rule.CPU)
    assert opened.incident.started_at == over_since
    assert opened.incident.peak == 99.5
    rig.advance(CYCLE)
    assert rig.run(100, cpu_percent=CPU_OVER) == []
    under_since = rig.now
    assert rig.run(60, cpu_percent=CPU_UNDER) == []
    [resolved] = rig.see(cpu_percent=CPU_UNDER)
    assert (resolved.change, resolved.incident.id) == (Change.RESOLVED, opened.incident.id)
    assert resolved.incident.resolved_at == under_since


def test_one_sample_under_restarts_the_overload_clock() -> None:
    rig = Rig()
    assert rig.run(200, cpu_percent=CPU_OVER) == []
    assert rig.see(cpu_percent=CPU_UNDER) == []
    rig.advance(CYCLE)
    assert rig.run(200, cpu_percent=CPU_OVER) == []


def test_a_bounce_under_within_the_quiet_period_keeps_the_incident_open() -> None:
    rig = Rig()
    rig.run(310, cpu_percent=CPU_OVER)
    assert rig.run(40, cpu_percent=CPU_UNDER) == []
    assert rig.run(10, cpu_percent=CPU_OVER) == []
    assert rig.run(50, cpu_percent=CPU_UNDER) == []
    assert [i.rule for i in rig.engine.open_incidents()] == [Rule.CPU]


def test_memory_over_its_limit_for_overload_for_fires() -> None:
    rig = Rig()
    assert rig.run(300, memory_mib=4000) == []
    [opened] = rig.see(memory_mib=4000)
    assert opened.incident.rule is Rule.MEMORY
    assert opened.incident.peak == 4000 * 100 / 4096


def test_disk_over_fires_on_one_sample_and_clears_after_the_quiet_period() -> None:
    rig = Rig()
    rig.run(20)
    [opened] = rig.see(disk_mib=10000)
    assert (opened.incident.rule, opened.incident.started_at) == (Rule.DISK, rig.now)
    rig.advance(CYCLE)
    assert rig.run(60) == []
    assert summary(rig.see()) == [("resolved", "disk", 1)]


def test_per_server_thresholds_apply() -> None:
    from pterodisbot.alerts import ServerAlertSettings

    rig = Rig(servers={ID: ServerAlertSettings(disk_percent=15.0)})
    assert summary(rig.see(disk_mib=2048)) == [("opened", "disk", 1)]


def test_unlimited_resources_never_fire() -> None:
    rig = Rig()
    unlimited = server("5e6f7a8b", cpu=0, memory=0, disk=0)
    assert rig.run(900, srv=unlimited, cpu_percent=800.0, memory_mib=60000, disk_mib=90000) == []


def test_stuck_starting_fires_after_stuck_after_and_clears_once_it_left() -> None:
    rig = Rig()
    rig.run(20, OFFLINE)
    since = rig.now
    assert rig.run(600, ServerStatus.STARTING) == []
    [opened] = rig.see(ServerStatus.STARTING)
    assert (opened.incident.rule, opened.incident.started_at, opened.incident.detail) == (
        Rule.STUCK,
        since,
        "starting",
    )
    rig.advance(CYCLE)
    left = rig.now
    assert rig.run(60) == []
    [resolved] = rig.see()
    assert (resolved.change, resolved.incident.resolved_at) == (Change.RESOLVED, left)


def test_unreachable_after_unreachable_polls_in_a_row() -> None:
    rig = Rig()
    rig.run(20)
    failing_since = rig.now
    assert rig.run(20, fault=ReadFault.REFUSED) == []
    [opened] = rig.see(fault=ReadFault.REFUSED)
    assert (opened.incident.rule, opened.incident.started_at, opened.incident.detail) == (
        Rule.UNREACHABLE,
        failing_since,
        f"refused for {ID}",
    )
    rig.advance(CYCLE)
    assert rig.run(60) == []
    assert summary(rig.see()) == [("resolved", "unreachable", 1)]


def test_two_failed_polls_then_a_read_is_nothing() -> None:
    rig = Rig()
    for _ in range(5):
        assert rig.run(20, fault=ReadFault.BAD_ANSWER) == []
        assert rig.run(10) == []


def test_node_down_is_one_incident_whose_count_grows() -> None:
    rig = Rig()
    servers = [server(f"0000000{i}", node="node-2") for i in range(3)]
    updates = []
    for round_ in range(6):
        for index, srv in enumerate(servers):
            # The second and third servers' nodes fail one and two polls later.
            fault = ReadFault.NODE_DOWN if round_ >= index else None
            rig.observe(srv=srv, fault=fault)
            updates += rig.evaluate()
            rig.advance(CYCLE / 3)
    assert summary(updates) == [
        ("opened", "node_down", 1),
        ("updated", "node_down", 2),
        ("updated", "node_down", 3),
    ]
    incident = updates[-1].incident
    assert incident.subject == "node-2"
    assert [s.identifier for s in incident.servers] == [s.identifier for s in servers]
    assert len({u.incident.id for u in updates}) == 1
    back = rig.now
    for _ in range(7):
        for srv in servers:
            rig.observe(srv=srv)
            updates += rig.evaluate()
            rig.advance(CYCLE / 3)
    assert summary(updates[3:]) == [("resolved", "node_down", 3)]
    assert updates[-1].incident.resolved_at == back + 2 * CYCLE / 3


def test_panel_down_for_two_minutes_with_twenty_servers_is_one_alert_then_one_recovery() -> None:
    rig = Rig()
    servers = [server(f"{i:08x}") for i in range(20)]
    updates = []
    step = CYCLE / len(servers)

    def cycles(count: int, fault: ReadFault | None) -> None:
        for _ in range(count):
            for srv in servers:
                rig.observe(srv=srv, fault=fault)
                updates.extend(rig.evaluate())
                rig.advance(step)

    cycles(3, None)
    down_since = rig.now
    cycles(12, ReadFault.PANEL_DOWN)
    back_at = rig.now
    cycles(18, None)
    assert summary(updates) == [("opened", "panel_down", 20), ("resolved", "panel_down", 20)]
    opened, resolved = (u.incident for u in updates)
    assert (opened.subject, opened.started_at, opened.fired_at) == (
        PANEL_SUBJECT,
        down_since,
        # Three polls of the fleet: two cycles, less a second for the spread of one cycle's polls.
        down_since + 2 * CYCLE - 1.0,
    )
    assert resolved.resolved_at == back_at
    assert resolved.lasted(rig.now) == 120.0


def test_a_poll_still_failing_as_the_panel_comes_back_makes_no_server_unreachable() -> None:
    rig = Rig()
    servers = [server(f"{i:08x}") for i in range(20)]
    updates = []
    step = CYCLE / len(servers)

    def cycles(count: int, fault: ReadFault | None, late: int | None = None) -> None:
        for _ in range(count):
            for index, srv in enumerate(servers):
                rig.observe(srv=srv, fault=ReadFault.PANEL_DOWN if index == late else fault)
                updates.extend(rig.evaluate())
                rig.advance(step)

    cycles(3, None)
    cycles(12, ReadFault.PANEL_DOWN)
    # The panel answers again; one poll sent before it did still fails, after others' reads.
    cycles(1, None, late=5)
    cycles(18, None)

    assert summary(updates) == [("opened", "panel_down", 20), ("resolved", "panel_down", 20)]


def test_one_server_failing_while_the_others_are_read_is_that_servers_problem() -> None:
    rig = Rig()
    good, bad = server("0000000a"), server("0000000b")
    updates = []
    for _ in range(4):
        rig.observe(srv=good)
        rig.observe(srv=bad, fault=ReadFault.PANEL_DOWN)
        updates += rig.evaluate()
        rig.advance(CYCLE)
    assert summary(updates) == [("opened", "unreachable", 1)]
    assert updates[0].incident.subject == bad.identifier


def test_flapping_is_one_incident_counting_changes_then_clears() -> None:
    rig = Rig()
    cycle = [RUNNING, ServerStatus.STOPPING, OFFLINE, ServerStatus.STARTING]
    updates = []
    for status in [*cycle, *cycle, RUNNING]:
        updates += rig.see(status)
        rig.advance(CYCLE)
    # Six changes open it, the seventh and eighth add to it.
    assert summary(updates) == [
        ("opened", "flapping", 6),
        ("updated", "flapping", 7),
        ("updated", "flapping", 8),
    ]
    assert updates[0].incident.started_at == rig.now - 8 * CYCLE
    last_change = rig.now - CYCLE
    quiet = rig.run(600)
    assert summary(quiet) == [("resolved", "flapping", 8)]
    assert quiet[0].incident.resolved_at == last_change


def test_disabled_rule_or_server_never_fires() -> None:
    from pterodisbot.alerts import ServerAlertSettings

    rig = Rig(rules=frozenset({Rule.CRASH}))
    assert rig.run(20) == []
    assert rig.run(30, disk_mib=10000) == []
    rig = Rig(servers={ID: ServerAlertSettings(enabled=False)})
    assert rig.run(30, disk_mib=10000) == []


def test_unknown_polls_prove_nothing_about_an_overload_or_a_start() -> None:
    rig = Rig()
    rig.run(200, cpu_percent=CPU_OVER)
    updates = rig.run(600, fault=ReadFault.BAD_ANSWER)
    assert summary(updates) == [("opened", "unreachable", 1)]
    stuck = server("0000000f")
    rig.run(100, ServerStatus.STARTING, srv=stuck)
    updates = rig.run(900, srv=stuck, fault=ReadFault.BAD_ANSWER)
    assert summary(updates) == [("opened", "unreachable", 1)]
    assert sorted(i.rule for i in rig.engine.open_incidents()) == [Rule.UNREACHABLE] * 2
