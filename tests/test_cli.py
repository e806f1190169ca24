"""`python -m pterodisbot`: check-config, run, demo and doctor, --version."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from pterodisbot import __version__
from pterodisbot.__main__ import main
from pterodisbot.demo import DEMO_POLL_INTERVAL, demo_fleet
from pterodisbot_sandbox.discord_server import DiscordSandbox, make_bot_token
from tests.fixtures.discord import poll_until
from tests.processes import REPO, subprocess_env

RESOURCES_ROUTE = "GET /api/client/servers/{server}/resources"

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"
API_KEY = "ptlc_Z9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeDcBaZyX"
GOOD = "[pterodactyl]\nurl = https://panel.example.com\n"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Drop every variable the configuration reads, so only the test decides."""
    for name in list(os.environ):
        if name.startswith(("PTERODISBOT_", "PTERODACTYL_")) or name == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def with_secrets(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    clean_env.setenv("DISCORD_TOKEN", TOKEN)
    clean_env.setenv("PTERODACTYL_API_KEY", API_KEY)
    return clean_env


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pterodisbot", *args],
        cwd=cwd,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    config = tmp_path / "config.ini"
    config.write_text(text, encoding="utf-8")
    code = main(["check-config", "--config", str(config)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


BROKEN = [
    pytest.param(
        GOOD + "[monitoring]\npoll_interval = 0\n", "monitoring.poll_interval: '0'", id="poll0"
    ),
    pytest.param(
        "[pterodactyl]\nurl = https://panel.example.com/api\n", "pterodactyl.url", id="url-path"
    ),
    pytest.param("[pterodactyl]\nurl = panel.example.com\n", "pterodactyl.url", id="url-scheme"),
    pytest.param("[monitoring]\npoll_interval = 10\n", "pterodactyl.url: missing", id="no-url"),
    pytest.param(
        GOOD + "[monitoring]\npoll_intervall = 5\n",
        "monitoring.poll_intervall: unknown key — expected a key of [monitoring] "
        "(did you mean poll_interval?)",
        id="typo-key",
    ),
    pytest.param(GOOD + "[monitor]\nservers =\n", "[monitor]: unknown section", id="typo-section"),
    pytest.param(
        GOOD + "requests_per_minute = plenty\n",
        "pterodactyl.requests_per_minute",
        id="rpm-type",
    ),
    pytest.param(GOOD + "timeout = 0.1\n", "pterodactyl.timeout", id="timeout-range"),
    pytest.param(GOOD + "[discord]\nguild_ids = 123, general\n", "discord.guild_ids", id="ids"),
    pytest.param(GOOD + "[discord]\nguild_ids = 1,,2\n", "discord.guild_ids", id="list"),
    pytest.param(
        GOOD + "[discord]\nsync_commands = sometimes\n", "discord.sync_commands", id="choice"
    ),
    pytest.param(GOOD + "[discord]\napi_base = ftp://x\n", "discord.api_base", id="api-base"),
    pytest.param(
        GOOD + "[discord]\naudit_channel_id = general\n", "discord.audit_channel_id", id="chan"
    ),
    pytest.param(
        GOOD + "[monitoring]\nmemory_threshold = 150\n", "monitoring.memory_threshold", id="pct"
    ),
    pytest.param(GOOD + "[monitoring]\nservers = a b\n", "monitoring.servers", id="servers"),
    pytest.param(
        GOOD + "[permissions]\nconfirm_dangerous = maybe\n",
        "permissions.confirm_dangerous: 'maybe' — expected true or false",
        id="bool",
    ),
    pytest.param(
        GOOD + "[permissions.1a2b3c4d]\nadmin = Mods\n", "permissions.1a2b3c4d.admin", id="override"
    ),
    pytest.param(GOOD + "[logging]\nlevel = LOUD\n", "logging.level", id="level"),
    pytest.param(GOOD + "[logging]\nloggers = discord\n", "logging.loggers", id="loggers"),
    pytest.param(GOOD + "[logging]\nmax_bytes = 1\n", "logging.max_bytes", id="size"),
    pytest.param(
        GOOD + f"api_key = {API_KEY}\n",
        "pterodactyl.api_key: '***' — expected no secrets",
        id="key",
    ),
]


@pytest.mark.parametrize(("text", "names"), BROKEN)
def test_check_config_names_the_broken_key_and_exits_2(
    tmp_path: Path,
    text: str,
    names: str,
    with_secrets: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = check(tmp_path, text, capsys)

    assert code == 2
    assert output.startswith("configuration has 1 problem(s):\n")
    assert names in output
    assert "Traceback" not in output


def test_check_config_names_the_variable_to_set_for_a_missing_secret(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("DISCORD_TOKEN", TOKEN)
    code, output = check(tmp_path, GOOD, capsys)
    assert code == 2
    assert "pterodactyl.api_key (PTERODACTYL_API_KEY): missing" in output
    assert "in PTERODACTYL_API_KEY in .env or the environment" in output


def test_check_config_ok_prints_a_summary_without_secrets(
    tmp_path: Path, with_secrets: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = GOOD + "[discord]\nguild_ids = 112233445566778899\n[monitoring]\npoll_interval = 15\n"
    code, output = check(tmp_path, text, capsys)

    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "configuration OK"
    assert "  panel: panel.example.com (client key, at most 600 requests/min)" in lines
    assert "  poll interval: 15 s (server list every 300 s)" in lines
    assert "  guilds: 1 (112233445566778899); commands sync: guild" in lines
    assert TOKEN not in output
    assert API_KEY not in output


def test_check_config_prints_warnings_but_still_passes(
    tmp_path: Path, with_secrets: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = check(tmp_path, GOOD + "requests_per_minute = 1000\n", capsys)
    assert code == 0
    assert "  warning: pterodactyl.requests_per_minute = 1000 is above" in output


@pytest.mark.parametrize("mode", ["guild", "global"])
def test_check_config_accepts_every_command_sync_that_registers_commands(
    tmp_path: Path,
    mode: str,
    with_secrets: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = check(tmp_path, GOOD + f"[discord]\nsync_commands = {mode}\n", capsys)

    assert code == 0
    assert "warning" not in output


def test_check_config_warns_that_sync_off_registers_no_commands(
    tmp_path: Path, with_secrets: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = check(tmp_path, GOOD + "[discord]\nsync_commands = off\n", capsys)

    assert code == 0
    (warning,) = [line for line in output.splitlines() if "warning:" in line]
    assert warning.startswith("  warning: discord.sync_commands = off: the bot registers no slash")
    assert "set sync_commands = guild" in warning


def test_check_config_subprocess_reports_a_bad_poll_interval(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(GOOD + "[monitoring]\npoll_interval = 0\n")

    done = run_cli("check-config", cwd=tmp_path, DISCORD_TOKEN=TOKEN, PTERODACTYL_API_KEY=API_KEY)

    assert done.returncode == 2
    assert done.stdout == (
        "configuration has 1 problem(s):\n"
        "  monitoring.poll_interval: '0' — expected a number of seconds from 2 to 3600\n"
    )
    assert "Traceback" not in done.stderr


def test_check_config_subprocess_reports_a_missing_file_clearly(tmp_path: Path) -> None:
    done = run_cli(
        "check-config",
        "--config",
        "nowhere/config.ini",
        cwd=tmp_path,
        DISCORD_TOKEN=TOKEN,
        PTERODACTYL_API_KEY=API_KEY,
    )

    assert done.returncode == 2
    assert "config file 'nowhere/config.ini': not found — expected a config file" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_check_config_subprocess_reads_dotenv_and_the_example_config(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text((REPO / "config.ini").read_text())
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nPTERODACTYL_API_KEY={API_KEY}\n")

    done = run_cli("check-config", cwd=tmp_path)

    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("configuration OK\n  panel: panel.example.com")
    assert TOKEN not in done.stdout + done.stderr
    assert API_KEY not in done.stdout + done.stderr


def test_secrets_never_appear_in_check_config_output_even_when_misplaced(tmp_path: Path) -> None:
    # The operator pasted the secrets everywhere they do not belong.
    (tmp_path / "config.ini").write_text(
        f"[pterodactyl]\nurl = https://{API_KEY}.example.com/api\ntoken = {TOKEN}\n"
        f"[discord]\nguild_ids = {TOKEN}\napi_base = {API_KEY}\n"
        f"[monitoring]\nservers = {API_KEY}\n[{TOKEN}]\nx = 1\n"
    )
    (tmp_path / "s.env").write_text(
        f"DISCORD_TOKEN=Bot {TOKEN}\nPTERODACTYL_API_KEY=Bearer {API_KEY}\n"
        f"PTERODISBOT_DISCORD_TOKEN={TOKEN}\n"
    )

    done = run_cli("check-config", "--env-file", "s.env", cwd=tmp_path)

    output = done.stdout + done.stderr
    assert done.returncode == 2
    assert "problem(s):" in output
    assert TOKEN not in output
    assert API_KEY not in output
    assert API_KEY.removeprefix("ptlc_") not in output


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"pterodisbot {__version__}"


def test_demo_refuses_an_impossible_port_before_starting_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--port", "70000"]) == 2
    assert "--port is 0 to 65535" in capsys.readouterr().err


def test_demo_without_the_sandboxes_says_so_in_one_line() -> None:
    # As in the Docker image, which installs pterodisbot/ only: the sandbox package is missing.
    code = (
        "import sys; sys.modules['pterodisbot_sandbox'] = None; "
        "from pterodisbot.__main__ import main; sys.exit(main(['demo']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "pterodisbot demo: this installation has no sandboxes (the Docker image leaves them out); "
        "run `make demo` from a checkout of the repository"
    ]


async def test_demo_prints_its_url_last_and_further_polls_print_nothing_after_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # 30 servers: the fleet then has a server on a node that is down, whose warning at every
    # poll used to bury the URL. Logs (stderr) and the URL (stdout) in one pipe, in order.
    assert any(spec.node_down for spec in demo_fleet(30))
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "pterodisbot", "demo", "--port", str(port), "--servers", "30"),
        cwd=REPO,
        env=subprocess_env(PYTHONUNBUFFERED="1"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert demo.stdout is not None
    try:
        before: list[str] = []
        while "http://" not in (
            line := (await asyncio.wait_for(demo.stdout.readline(), 60)).decode()
        ):
            assert line, f"the demo ended without a URL: {''.join(before)}"
            before.append(line)
        url = re.findall(r"http://\S+", line)[0]
        async with aiohttp.ClientSession() as session:

            async def resources_polls() -> int:
                async with session.get(f"{url}_sim/stats") as answer:
                    return int((await answer.json())["requests"].get(RESOURCES_ROUTE, 0))

            at_url, since = await resources_polls(), time.monotonic()

            async def two_more_cycles() -> bool:
                # Streaming is the default: only servers that cannot stream (the one on the
                # down node among them) are polled, one request each per 3 s cycle.
                return (
                    time.monotonic() - since >= 2 * DEMO_POLL_INTERVAL
                    and await resources_polls() >= at_url + 2
                )

            await poll_until(two_more_cycles, within=30, what="two more cycles of polls")
        demo.send_signal(signal.SIGINT)
        rest = (await asyncio.wait_for(demo.stdout.read(), 30)).decode()
        code = await demo.wait()
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
    assert code == 0
    assert rest.splitlines() == ["Pterodisbot demo: stopping…"]
    assert any("Wings" in earlier for earlier in before)  # the start-up noise came first


def test_run_refuses_a_broken_config_before_starting_anything(
    tmp_path: Path, with_secrets: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.ini"
    config.write_text("[pterodactyl]\nurl = ftp://panel\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "pterodactyl.url: 'ftp://panel'" in capsys.readouterr().out


async def test_run_with_a_token_discord_refuses_exits_2_with_one_clear_line(
    tmp_path: Path,
) -> None:
    # The sandbox accepts only its own token, so ours gets 401 as a revoked one would on Discord.
    sandbox = DiscordSandbox(token=make_bot_token(1))
    await sandbox.start()
    try:
        (tmp_path / "config.ini").write_text(
            f"[pterodactyl]\nurl = http://127.0.0.1:9\n[discord]\napi_base = {sandbox.url}\n"
        )
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pterodisbot",
            "run",
            cwd=tmp_path,
            env=subprocess_env(DISCORD_TOKEN=TOKEN, PTERODACTYL_API_KEY=API_KEY),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(bot.communicate(), 60)
    finally:
        await sandbox.stop()

    output = out.decode() + err.decode()
    assert bot.returncode == 2
    problems = [line for line in output.splitlines() if "ERROR" in line or "token" in line.lower()]
    assert len(problems) == 1, output
    assert "Discord refused the bot token (401 Unauthorized): set DISCORD_TOKEN" in problems[0]
    assert "Traceback" not in output
    assert TOKEN not in output
    assert TOKEN.split(".")[2] not in output
