"""`doctor` against the simulated panel: key checks, server states told truthfully, exit codes."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Mapping
from pathlib import Path

from pterodisbot.clock import FakeClock
from pterodisbot.config import Settings, settings_from_sections
from pterodisbot.doctor import run_doctor
from pterodisbot.sandbox.panel import SimServerSpec, SimulatedPanel
from tests.fixtures.panel import MakeSimPanel
from tests.processes import subprocess_env

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"
KEY = "ptlc_DoctorKey0123456789abcdefghijklmnopqrstu"
RESOURCES = "GET /api/client/servers/{server}/resources"

FLEET = [
    SimServerSpec(name="Survival", identifier="aaaa0001", state="running"),
    SimServerSpec(name="Creative", identifier="aaaa0002", state="offline"),
    SimServerSpec(name="Modpack", identifier="aaaa0003", state="offline", status="installing"),
    SimServerSpec(name="Old Rust", identifier="aaaa0004", status="suspended"),
    SimServerSpec(name="Valheim", identifier="aaaa0005", node="sgp-1", node_down=True),
]


def settings_for(
    panel: SimulatedPanel,
    key: str = KEY,
    sections: Mapping[str, Mapping[str, str]] | None = None,
) -> Settings:
    extra = dict(sections or {})
    pterodactyl = {"url": panel.url, **extra.pop("pterodactyl", {})}
    return settings_from_sections(
        {"pterodactyl": pterodactyl, **extra},
        env={"DISCORD_TOKEN": TOKEN, "PTERODACTYL_API_KEY": key},
    )


async def doctor(settings: Settings, clock: FakeClock | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_doctor(settings, out=out, clock=clock)
    return code, out.getvalue()


async def doctor_command(cwd: Path, **env: str) -> tuple[int | None, str, str]:
    """Run `python -m pterodisbot doctor` in `cwd`; return its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pterodisbot",
        "doctor",
        cwd=cwd,
        env=subprocess_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, stdout.decode(), stderr.decode()


def line_for(output: str, identifier: str) -> str:
    (line,) = [line for line in output.splitlines() if f" {identifier} " in line]
    return line


async def test_doctor_tells_each_server_state_truthfully_and_passes(
    make_sim_panel: MakeSimPanel,
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)

    code, output = await doctor(settings_for(panel))

    assert code == 0
    assert "the API key is a client key of user 'simulated'" in output
    assert "the key sees 5 server(s), watching all of them" in output
    assert "✓ aaaa0001  Survival" in line_for(output, "aaaa0001")
    assert "running" in line_for(output, "aaaa0001")
    assert "offline" in line_for(output, "aaaa0002")
    assert "! aaaa0003" in line_for(output, "aaaa0003")
    assert "cannot be read: installing (409" in line_for(output, "aaaa0003")
    assert "cannot be read: suspended (409" in line_for(output, "aaaa0004")
    assert "node 'sgp-1' is down or unreachable from the panel (504)" in line_for(
        output, "aaaa0005"
    )
    assert "2 of 5 watched server(s) readable; 3 cannot be read now" in output
    assert output.rstrip().endswith("doctor: the bot can run with this configuration")
    # One resources call per server: the doctor costs what one poll costs.
    assert panel.stats()["requests"][RESOURCES] == 5


async def test_doctor_fails_with_a_clear_line_on_a_bad_key(make_sim_panel: MakeSimPanel) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)

    code, output = await doctor(settings_for(panel, key="ptlc_revokedKey000000000000000000"))

    assert code == 1
    assert "✗ the panel refused the API key" in output
    assert "401" in output
    assert "ptlc_revokedKey" not in output
    assert "the bot cannot run yet" in output
    assert RESOURCES not in panel.stats()["requests"]


async def test_doctor_names_an_application_key_without_spending_a_request(
    make_sim_panel: MakeSimPanel,
) -> None:
    app_key = "ptla_AppKey0123456789abcdefghijklmnopqrstuvw"
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET, application_keys=[app_key])
    settings = settings_for(
        panel, key=app_key, sections={"pterodactyl": {"key_type": "application"}}
    )

    code, output = await doctor(settings)

    assert code == 1
    assert "✗ the API key is an application key" in output
    assert "ptlc_" in output
    assert app_key not in output
    assert panel.stats()["requests"] == {}


async def test_doctor_tells_an_unprefixed_application_key_by_the_panels_403(
    make_sim_panel: MakeSimPanel,
) -> None:
    legacy = "LegacyApplicationKey0123456789abcdefghijklmn"
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET, application_keys=[legacy])

    code, output = await doctor(settings_for(panel, key=legacy))

    assert code == 1
    assert "✗ the API key is an application key" in output
    assert legacy not in output
    assert panel.stats()["requests"] == {"GET /api/client/account": 1}


async def test_doctor_reads_only_the_watched_servers_and_flags_unknown_ones(
    make_sim_panel: MakeSimPanel,
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    settings = settings_for(panel, sections={"monitoring": {"servers": "aaaa0001, bbbb9999"}})

    code, output = await doctor(settings)

    assert code == 1
    assert "✗ monitoring.servers lists bbbb9999, which the key cannot see" in output
    assert "watching 1 of them" in output
    assert panel.stats()["requests"][RESOURCES] == 1


async def test_doctor_fails_when_the_panel_itself_errors(make_sim_panel: MakeSimPanel) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    panel.add_fault("5xx", servers=["aaaa0001"], status=500)

    # The client's retry back-off runs on the fake clock, so the test does not wait for it.
    code, output = await doctor(settings_for(panel), clock=FakeClock(autojump=0.001))

    assert code == 1
    assert "✗ aaaa0001" in line_for(output, "aaaa0001")
    assert "500" in line_for(output, "aaaa0001")
    assert "the bot cannot run yet" in output


async def test_doctor_reports_an_unreachable_panel(unused_tcp_port: int) -> None:
    panel = SimulatedPanel(api_key=KEY, fleet=FLEET)
    await panel.start(port=unused_tcp_port)
    await panel.stop()  # nothing listens there any more
    settings = settings_for(panel, sections={"pterodactyl": {"max_retries": "0"}})

    code, output = await doctor(settings)

    assert code == 1
    assert "✗ could not check the API key: Could not talk to the panel" in output


async def test_doctor_warns_when_the_budget_cannot_keep_up_with_the_poll(
    make_sim_panel: MakeSimPanel,
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    settings = settings_for(panel, sections={"pterodactyl": {"requests_per_minute": "7"}})

    code, output = await doctor(settings)

    assert code == 0
    assert "needs about 30 requests/min, more than the budget of 7/min" in output
    assert "set [monitoring] poll_interval to 45 s or more" in output
    assert panel.stats()["rate_limited"] == 0


async def test_doctor_command_runs_end_to_end_without_showing_secrets(
    make_sim_panel: MakeSimPanel, tmp_path: Path
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    (tmp_path / "config.ini").write_text(f"[pterodactyl]\nurl = {panel.url}\n")
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nPTERODACTYL_API_KEY={KEY}\n")

    code, stdout, stderr = await doctor_command(tmp_path)
    output = stdout + stderr

    assert code == 0, output
    assert "installing (409" in output
    assert "doctor: the bot can run" in output
    assert TOKEN not in output
    assert KEY not in output


async def test_doctor_command_exits_2_on_a_config_problem(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[pterodactyl]\nurl = https://panel.example.com/api\n")

    code, stdout, _ = await doctor_command(tmp_path, DISCORD_TOKEN=TOKEN)

    assert code == 2
    assert "pterodactyl.url: 'https://panel.example.com/api'" in stdout
    assert "PTERODACTYL_API_KEY" in stdout
