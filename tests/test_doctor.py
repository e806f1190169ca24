"""`doctor` against the simulated panel and the Discord sandbox: key and token checks, server
states told truthfully, one line about Discord, exit codes."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Mapping
from pathlib import Path

from pterodisbot.clock import FakeClock
from pterodisbot.config import Settings, settings_from_sections
from pterodisbot.doctor import run_doctor
from pterodisbot_sandbox.discord_server import DiscordSandbox, make_bot_token
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel
from tests.fixtures.discord import SandboxFactory, poll_until
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
    *,
    token: str | None = None,
    discord: DiscordSandbox | str | None = None,
) -> Settings:
    """Settings for doctor; without a `token` Discord is not checked, else at `discord`'s URL."""
    # History is checked by its own tests (test_history_doctor.py): none here, so nothing is
    # written in the folder the tests run from.
    extra = {"history": {"url": "none"}, **(sections or {})}
    pterodactyl = {"url": panel.url, **extra.pop("pterodactyl", {})}
    if discord is not None:
        api_base = discord if isinstance(discord, str) else discord.url
        extra["discord"] = {"api_base": api_base, **extra.get("discord", {})}
    env = {"PTERODACTYL_API_KEY": key} | ({"DISCORD_TOKEN": token} if token else {})
    return settings_from_sections(
        {"pterodactyl": pterodactyl, **extra}, env=env, require_token=False
    )


async def doctor(settings: Settings, clock: FakeClock | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_doctor(settings, out=out, clock=clock)
    return code, out.getvalue()


async def doctor_command(cwd: Path, **env: str) -> tuple[int | None, str, str]:
    """Run `python -m pterodisbot doctor` in `cwd`; return its exit code, stdout and stderr."""
    return await cli(cwd, "doctor", **env)


async def cli(cwd: Path, command: str, **env: str) -> tuple[int | None, str, str]:
    """Run `python -m pterodisbot <command>` in `cwd`; return its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pterodisbot",
        command,
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


def discord_line(output: str) -> str:
    """Return the one line of the report that speaks of Discord (fail if there are more)."""
    lines = [line for line in output.splitlines() if "Discord" in line]
    assert len(lines) == 1, output
    return lines[0]


async def test_doctor_tells_each_server_state_truthfully_and_passes(
    make_sim_panel: MakeSimPanel, discord_sandbox: DiscordSandbox
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)

    code, output = await doctor(settings_for(panel, token=TOKEN, discord=discord_sandbox))

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


async def test_doctor_names_every_state_the_panel_refuses_a_read_for(
    make_sim_panel: MakeSimPanel,
) -> None:
    fleet = [
        SimServerSpec(name="Broken", identifier="bbbb0001", status="install_failed"),
        SimServerSpec(name="Restore", identifier="bbbb0002", status="restoring_backup"),
        SimServerSpec(name="Moving", identifier="bbbb0003", transferring=True),
        SimServerSpec(name="Patched", identifier="bbbb0004", node_maintenance=True),
    ]
    panel = await make_sim_panel(api_key=KEY, fleet=fleet)

    code, output = await doctor(settings_for(panel))

    assert "cannot be read: its installation failed (409: " in line_for(output, "bbbb0001")
    assert "cannot be read: restoring a backup (409: " in line_for(output, "bbbb0002")
    assert "cannot be read: being transferred to another node (409: " in line_for(
        output, "bbbb0003"
    )
    assert "cannot be read: its node is under maintenance (409: " in line_for(output, "bbbb0004")
    assert code == 0


async def test_doctor_believes_the_409_over_an_older_server_listing(
    make_sim_panel: MakeSimPanel,
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET[:1])
    # Hold the read back (real time) so the server can be suspended after it was listed.
    panel.add_fault("slow", servers=["aaaa0001"], delay=2.0)
    run = asyncio.create_task(doctor(settings_for(panel)))

    async def read_arrived() -> bool:
        return panel.stats()["requests"].get(RESOURCES, 0) == 1

    await poll_until(read_arrived, what="the doctor's resources read of aaaa0001")
    panel.server("aaaa0001").status = "suspended"
    code, output = await run

    assert "cannot be read: suspended (409: " in line_for(output, "aaaa0001")
    assert code == 0


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


async def test_doctor_counts_token_requests_when_servers_stream(
    make_sim_panel: MakeSimPanel,
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    streaming = settings_for(panel, sections={"pterodactyl": {"requests_per_minute": "7"}})
    polling = settings_for(
        panel,
        sections={"pterodactyl": {"requests_per_minute": "7"}, "monitoring": {"source": "poll"}},
    )

    _code, streamed = await doctor(streaming)
    _code, polled = await doctor(polling)

    # 5 servers: 5 × 60 / 510 s + the list every 300 s ≈ 0.8 token requests a minute.
    assert (
        "✓ streaming 5 server(s) over Wings needs about 1 token requests/min, within the 4/min "
        "(half the budget) kept for them; a server that cannot stream is polled:" in streamed
    )
    assert "streaming" not in polled
    assert "needs about 30 requests/min, more than the budget of 7/min" in polled


# ------------------------------------------------------------------ Discord


async def test_doctor_without_a_token_checks_the_panel_and_says_discord_was_not_checked(
    make_sim_panel: MakeSimPanel,
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)

    code, output = await doctor(settings_for(panel))

    assert code == 0
    assert "the key sees 5 server(s)" in output
    assert discord_line(output) == (
        "  ! Discord not checked: DISCORD_TOKEN is not set (run needs it; doctor does not)"
    )
    assert output.rstrip().endswith(
        "doctor: the panel side is ready; the bot token was not checked"
    )


async def test_doctor_checks_the_token_for_real_and_names_the_bot_and_its_guilds(
    make_sim_panel: MakeSimPanel, discord_sandbox: DiscordSandbox
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    bot = discord_sandbox.world.bot
    guild = discord_sandbox.world.guilds[0]

    code, output = await doctor(settings_for(panel, token=TOKEN, discord=discord_sandbox))

    assert code == 0
    assert discord_line(output) == (
        f"  ✓ Discord accepted the bot token: bot 'Pterodisbot' (id {bot.id}); it needs no "
        f"privileged intent; serves every guild it is in: Pterodisbot Sandbox ({guild.id})"
    )
    calls = [(e["route"], e["status"]) for e in discord_sandbox.requests.since(0)]
    assert calls == [("GET /users/@me", 200), ("GET /users/@me/guilds", 200)]
    assert TOKEN not in output


async def test_doctor_fails_when_the_bot_is_not_in_a_configured_guild(
    make_sim_panel: MakeSimPanel, discord_sandbox: DiscordSandbox
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    guild = discord_sandbox.world.guilds[0]
    elsewhere = 123456789012345678
    sections = {"discord": {"guild_ids": f"{guild.id}, {elsewhere}"}}

    code, output = await doctor(
        settings_for(panel, sections=sections, token=TOKEN, discord=discord_sandbox)
    )

    assert code == 1
    line = discord_line(output)
    assert line.startswith("  ✗ Discord accepted the bot token: bot 'Pterodisbot'")
    assert f"but it is not in guild(s) {elsewhere} of discord.guild_ids: invite it there" in line
    assert "the bot cannot run yet" in output


async def test_doctor_says_in_one_line_that_discord_refused_the_token(
    make_sim_panel: MakeSimPanel, discord_sandbox_factory: SandboxFactory
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    # The sandbox accepts only its own token, as Discord refuses a reset or mistyped one.
    sandbox = await discord_sandbox_factory(token=make_bot_token(1))

    code, output = await doctor(settings_for(panel, token=TOKEN, discord=sandbox))

    assert code == 1
    assert discord_line(output) == (
        "  ✗ Discord refused the bot token (401 Unauthorized): set DISCORD_TOKEN to the token "
        "from the Developer Portal (Bot → Reset Token), without 'Bot '"
    )
    assert "the bot cannot run yet" in output
    assert TOKEN not in output
    assert TOKEN.split(".")[2] not in output


async def test_doctor_says_in_one_line_that_discord_cannot_be_reached(
    make_sim_panel: MakeSimPanel, unused_tcp_port: int
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    nowhere = f"http://127.0.0.1:{unused_tcp_port}"  # nothing listens there

    code, output = await doctor(settings_for(panel, token=TOKEN, discord=nowhere))

    assert code == 1
    line = discord_line(output)
    assert line.startswith(f"  ✗ Discord not reachable at {nowhere}/api/v10 (")
    assert line.endswith(" (connection refused): check [discord] api_base")
    assert "the bot cannot run yet" in output


async def test_doctor_command_runs_end_to_end_without_showing_secrets(
    make_sim_panel: MakeSimPanel, discord_sandbox: DiscordSandbox, tmp_path: Path
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    (tmp_path / "config.ini").write_text(
        f"[pterodactyl]\nurl = {panel.url}\n[discord]\napi_base = {discord_sandbox.url}\n"
    )
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nPTERODACTYL_API_KEY={KEY}\n")

    code, stdout, stderr = await doctor_command(tmp_path)
    output = stdout + stderr

    assert code == 0, output
    assert "installing (409" in output
    assert discord_line(output).startswith("  ✓ Discord accepted the bot token: bot 'Pterodisbot'")
    assert output.rstrip().endswith("doctor: the bot can run with this configuration")
    assert TOKEN not in output
    assert KEY not in output


async def test_doctor_command_checks_the_panel_without_a_token_where_run_refuses(
    make_sim_panel: MakeSimPanel, tmp_path: Path
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    (tmp_path / "config.ini").write_text(f"[pterodactyl]\nurl = {panel.url}\n")
    (tmp_path / ".env").write_text(f"PTERODACTYL_API_KEY={KEY}\n")

    code, stdout, stderr = await doctor_command(tmp_path)

    assert code == 0, stdout + stderr
    assert "the key sees 5 server(s)" in stdout
    assert discord_line(stdout) == (
        "  ! Discord not checked: DISCORD_TOKEN is not set (run needs it; doctor does not)"
    )
    assert "Traceback" not in stdout + stderr
    # `run` cannot do without it: the same configuration is a problem there, before any start.
    code, stdout, _ = await cli(tmp_path, "run")
    assert code == 2
    assert "discord.token (DISCORD_TOKEN): missing" in stdout


async def test_doctor_command_exits_1_on_a_token_discord_refuses(
    make_sim_panel: MakeSimPanel, discord_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    sandbox = await discord_sandbox_factory(token=make_bot_token(1))
    (tmp_path / "config.ini").write_text(
        f"[pterodactyl]\nurl = {panel.url}\n[discord]\napi_base = {sandbox.url}\n"
    )

    code, stdout, stderr = await doctor_command(
        tmp_path, DISCORD_TOKEN=TOKEN, PTERODACTYL_API_KEY=KEY
    )

    assert code == 1, stdout + stderr
    assert discord_line(stdout).startswith("  ✗ Discord refused the bot token (401 Unauthorized)")
    assert TOKEN not in stdout + stderr


async def test_doctor_command_exits_2_on_a_config_problem(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[pterodactyl]\nurl = https://panel.example.com/api\n")

    code, stdout, _ = await doctor_command(tmp_path, DISCORD_TOKEN=TOKEN)

    assert code == 2
    assert "pterodactyl.url: 'https://panel.example.com/api'" in stdout
    assert "PTERODACTYL_API_KEY" in stdout
