"""config.ini + .env + environment -> validated, frozen settings; every problem at once."""

from __future__ import annotations

import configparser
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pterodisbot.alerts import AlertSettings, Rule, Severity
from pterodisbot.config import (
    TABLE,
    ConfigValidationError,
    Secret,
    example_ini,
    load_settings,
    settings_from_sections,
)
from pterodisbot.permissions import Action, RoleRule
from tests.processes import subprocess_env

REPO = Path(__file__).resolve().parents[1]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"
API_KEY = "ptlc_Z9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeDcBaZyX"
SECRETS = {"DISCORD_TOKEN": TOKEN, "PTERODACTYL_API_KEY": API_KEY}


def write(tmp_path: Path, text: str, name: str = "config.ini") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(excinfo: pytest.ExceptionInfo[ConfigValidationError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


MINIMAL = "[pterodactyl]\nurl = https://panel.example.com\n"


def test_example_config_ini_loads_with_secrets_from_the_environment() -> None:
    settings = load_settings(REPO / "config.ini", env=SECRETS, dotenv_path=None)

    assert settings.pterodactyl.url == "https://panel.example.com"
    assert settings.pterodactyl.api_key.reveal() == API_KEY
    assert settings.discord.token.reveal() == TOKEN
    assert settings.pterodactyl.requests_per_minute == 600
    assert settings.monitoring.poll_interval == 10
    assert settings.monitoring.history_size == 133  # auto: 900 s at 10 s, +25 %, +20
    assert settings.discord.guild_ids == ()
    assert settings.discord.api_base is None
    assert settings.logging.file is None
    assert settings.warnings == ()


def test_example_config_ini_documents_every_key_with_its_real_default() -> None:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    parser.read(REPO / "config.ini", encoding="utf-8")
    assert parser.sections() == [section.name for section in TABLE]
    for section in TABLE:
        documented = dict(parser[section.name])
        assert list(documented) == [key.name for key in section.keys], section.name
        for key in section.keys:
            if key.missing is None:  # a required key shows an example, not its empty default
                assert documented[key.name] == key.default, f"{section.name}.{key.name}"


def test_config_ini_is_the_example_the_settings_table_writes() -> None:
    committed = (REPO / "config.ini").read_text(encoding="utf-8")
    assert committed == example_ini(), (
        "config.ini differs from the settings table (pterodisbot/config/_table.py); "
        "run: make config-ini"
    )


def test_the_documented_example_is_printed_by_python_m_pterodisbot_config() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pterodisbot.config"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=subprocess_env(),
        timeout=60,
    )
    assert done.stdout == (REPO / "config.ini").read_text(encoding="utf-8")


def test_every_key_of_the_table_is_a_field_of_its_settings_and_documented() -> None:
    settings = settings_from_sections(MINIMAL_SECTIONS, env=SECRETS)
    # Fields that are no key of config.ini: the secrets, and the rules the action keys build.
    not_keys = {
        "pterodactyl.api_key",
        "discord.token",
        "permissions.rules",
        "permissions.overrides",
        "alerts.servers",
        "query.servers",
    }
    for section in TABLE:
        fields = {f.name for f in dataclasses.fields(getattr(settings, section.name))}
        keys = {key.name for key in section.keys}
        if section.name == "permissions":
            keys -= {action.value for action in Action}
        assert keys == {f for f in fields if f"{section.name}.{f}" not in not_keys}, section.name
        for key in section.keys:
            assert key.doc or section.intro, f"{section.name}.{key.name} has no doc line"


def test_alert_settings_defaults_are_the_tables() -> None:
    # AlertSettings() is what the engine's tests build; it must be what config.ini means.
    settings = settings_from_sections(MINIMAL_SECTIONS, env=SECRETS)
    assert settings.alerts == AlertSettings()
    assert not settings.alerts.enabled


def test_alert_overrides_per_server_and_their_problems_name_the_key() -> None:
    sections = {
        **MINIMAL_SECTIONS,
        "alerts": {"channel_id": "1234567", "mention_critical": "On Call", "rules": "crash"},
        "alerts.1A2B3C4D": {"cpu_percent": "150%", "enabled": "false"},
    }
    settings = settings_from_sections(sections, env=SECRETS)
    alerts = settings.alerts
    assert alerts.channel_id == 1234567
    assert alerts.rules == {Rule.CRASH}
    assert alerts.thresholds("1a2b3c4d").cpu_percent == 150
    assert alerts.thresholds("99999999").cpu_percent == 95
    assert not alerts.server_enabled("1a2b3c4d")
    assert alerts.mention_for(Severity.CRITICAL, "99999999").names == {"on call"}

    bad = {
        **MINIMAL_SECTIONS,
        "alerts": {"mention_warning": "@everyone", "rules": "crash, explode"},
        "alerts.1a2b3c4d": {"cpu": "90"},
        "alerts.2b3c4d5e": {"memory_percent": "lots"},
    }
    with pytest.raises(ConfigValidationError) as caught:
        settings_from_sections(bad, env=SECRETS)
    wheres = [problem.where for problem in caught.value.problems]
    assert wheres == [
        "alerts.1a2b3c4d.cpu",
        "alerts.rules",
        "alerts.mention_warning",
        "alerts.2b3c4d5e.memory_percent",
    ], wheres
    assert "never mention @everyone" in str(caught.value)
    assert "'explode' is not a rule" in str(caught.value)


def test_not_answering_is_off_by_default_and_turned_on_or_off_per_server() -> None:
    sections = {
        **MINIMAL_SECTIONS,
        "alerts": {"channel_id": "1234567"},
        "alerts.1a2b3c4d": {"not_answering": "true"},
    }
    alerts = settings_from_sections(sections, env=SECRETS).alerts
    assert alerts.rule_on(Rule.NOT_ANSWERING, "1a2b3c4d")
    assert not alerts.rule_on(Rule.NOT_ANSWERING, "99999999")

    sections["alerts"] = {"channel_id": "1234567", "rules": "crash, not_answering"}
    sections["alerts.1a2b3c4d"] = {"not_answering": "false"}
    alerts = settings_from_sections(sections, env=SECRETS).alerts
    assert not alerts.rule_on(Rule.NOT_ANSWERING, "1a2b3c4d")
    assert alerts.rule_on(Rule.NOT_ANSWERING, "99999999")

    sections["alerts.1a2b3c4d"] = {"not_answering": "sometimes"}
    with pytest.raises(ConfigValidationError) as caught:
        settings_from_sections(sections, env=SECRETS)
    assert [p.where for p in caught.value.problems] == ["alerts.1a2b3c4d.not_answering"]


def test_defaults_apply_to_every_key_left_out() -> None:
    settings = settings_from_sections({"pterodactyl": {"url": "http://10.0.0.5:8080"}}, env=SECRETS)

    assert settings.pterodactyl.url == "http://10.0.0.5:8080"
    assert settings.pterodactyl.key_type == "client"
    assert settings.pterodactyl.max_retries == 3
    assert settings.monitoring.cpu_threshold == 25
    assert settings.monitoring.smoothing == 60
    assert settings.monitoring.graph_window == 900
    assert settings.permissions.confirm_dangerous is True
    assert settings.logging.loggers == {"discord": 30, "aiohttp.access": 30}


def test_environment_beats_dotenv_which_beats_config_ini(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        MINIMAL + "[monitoring]\npoll_interval = 30\nhistory_size = 100\ncpu_threshold = 5\n",
    )
    write(
        tmp_path,
        "PTERODISBOT_MONITORING_HISTORY_SIZE=200\nPTERODISBOT_MONITORING_CPU_THRESHOLD=7\n",
        ".env",
    )
    env = {**SECRETS, "PTERODISBOT_MONITORING_CPU_THRESHOLD": "9"}

    settings = load_settings(config, env=env)

    assert settings.monitoring.poll_interval == 30  # config.ini only
    assert settings.monitoring.history_size == 200  # .env over config.ini
    assert settings.monitoring.cpu_threshold == 9  # environment over .env


def test_panel_url_may_come_from_the_environment_only(tmp_path: Path) -> None:
    config = write(tmp_path, "[monitoring]\npoll_interval = 15\n")
    env = {**SECRETS, "PTERODACTYL_URL": "https://games.example.org/"}

    settings = load_settings(config, env=env)

    assert settings.pterodactyl.url == "https://games.example.org"


@pytest.mark.parametrize("sections", [{}, {"pterodactyl": {"url": "  "}}])
def test_a_missing_panel_url_is_a_problem_saying_where_to_set_it(
    sections: dict[str, dict[str, str]],
) -> None:
    with pytest.raises(ConfigValidationError) as excinfo:
        settings_from_sections(sections, env=SECRETS)
    assert problems_of(excinfo) == [
        "pterodactyl.url: missing — expected the panel's address, e.g. https://panel.example.com: "
        "set url in [pterodactyl] of config.ini or PTERODACTYL_URL in .env"
    ]


def test_secrets_are_read_from_dotenv_without_touching_os_environ(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    write(tmp_path, f"DISCORD_TOKEN={TOKEN}\nPTERODACTYL_API_KEY='{API_KEY}'\n", ".env")
    assert "DISCORD_TOKEN" not in os.environ

    settings = load_settings(config, env={})

    assert settings.discord.token.reveal() == TOKEN
    assert settings.pterodactyl.api_key.reveal() == API_KEY
    assert "DISCORD_TOKEN" not in os.environ
    assert "PTERODACTYL_API_KEY" not in os.environ


def test_an_explicit_env_file_replaces_the_one_beside_the_config(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    write(tmp_path, "DISCORD_TOKEN=from-default-file\n", ".env")
    other = write(tmp_path, f"DISCORD_TOKEN={TOKEN}\nPTERODACTYL_API_KEY={API_KEY}\n", "prod.env")

    settings = load_settings(config, env={}, dotenv_path=other)

    assert settings.discord.token.reveal() == TOKEN


def test_a_missing_explicit_env_file_is_a_problem(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(config, env=SECRETS, dotenv_path=tmp_path / "nope.env")
    assert any("nope.env" in line and "not found" in line for line in problems_of(excinfo))


def test_an_unreadable_or_non_utf8_env_file_is_a_problem(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    latin1 = tmp_path / "latin1.env"
    latin1.write_bytes(b"DISCORD_TOKEN=caf\xe9\n")
    for env_file, said in ((latin1, "not UTF-8 text"), (tmp_path, "cannot be read")):
        with pytest.raises(ConfigValidationError) as excinfo:
            load_settings(config, env=SECRETS, dotenv_path=env_file)
        assert any(said in line for line in problems_of(excinfo)), problems_of(excinfo)


def test_a_windows_env_file_reads_the_same(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    (tmp_path / ".env").write_bytes(
        f"DISCORD_TOKEN={TOKEN}\r\nPTERODACTYL_API_KEY={API_KEY}\r\n".encode()
    )

    settings = load_settings(config, env={})

    assert settings.discord.token.reveal() == TOKEN
    assert settings.pterodactyl.api_key.reveal() == API_KEY


def test_secrets_written_into_config_ini_are_refused_and_never_echoed(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL + f"api_key = {API_KEY}\n[discord]\ntoken = {TOKEN}\n")

    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(config, env={})

    text = str(excinfo.value)
    assert "pterodactyl.api_key: '***'" in text
    assert "PTERODACTYL_API_KEY" in text
    assert "discord.token: '***'" in text
    assert ".env as DISCORD_TOKEN" in text
    assert API_KEY not in text
    assert TOKEN not in text


def test_every_problem_is_reported_at_once_each_naming_its_key(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "[pterodactyl]\nurl = panel.example.com\nmax_retries = -1\n"
        "[monitoring]\npoll_interval = 0\nmemory_threshold = 150\n"
        "[logging]\nlevel = LOUD\n",
    )

    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(config, env={})

    lines = problems_of(excinfo)
    keys = [line.split(":", 1)[0] for line in lines]
    assert keys == [
        "pterodactyl.url",
        "pterodactyl.max_retries",
        "pterodactyl.api_key (PTERODACTYL_API_KEY)",
        "discord.token (DISCORD_TOKEN)",
        "monitoring.poll_interval",
        "monitoring.memory_threshold",
        "logging.level",
    ]
    assert "monitoring.poll_interval: '0' — expected a number of seconds from 2 to 3600" in lines
    assert str(excinfo.value).startswith("configuration has 7 problem(s):\n")


def test_an_override_problem_names_the_variable_that_set_it(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    env = {**SECRETS, "PTERODISBOT_MONITORING_POLL_INTERVAL": "fast"}

    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(config, env=env)

    assert problems_of(excinfo) == [
        "monitoring.poll_interval (from PTERODISBOT_MONITORING_POLL_INTERVAL in the environment): "
        "'fast' — expected a number of seconds from 2 to 3600"
    ]


def test_an_unknown_override_variable_suggests_the_real_one(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    env = {**SECRETS, "PTERODISBOT_MONITORING_POLL_INTERVALL": "5", "PTERODISBOT_CONFIG": "x"}

    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(config, env=env)

    (line,) = problems_of(excinfo)
    assert line.startswith("PTERODISBOT_MONITORING_POLL_INTERVALL in the environment: unknown")
    assert "did you mean PTERODISBOT_MONITORING_POLL_INTERVAL?" in line


def test_a_key_in_the_wrong_section_is_pointed_to_its_home(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL + "poll_interval = 5\n")
    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(config, env=SECRETS)
    assert problems_of(excinfo) == [
        "pterodactyl.poll_interval: unknown key — expected a key of [pterodactyl]; "
        "poll_interval belongs in [monitoring]"
    ]


def test_durations_sizes_and_lists_accept_operator_friendly_spellings(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        MINIMAL + "[monitoring]\nserver_list_refresh = 5m\nforced_refresh = 1h\n"
        "servers = 1a2b3c4d, deadbeef,\n"
        "[discord]\nguild_ids = 112233445566778899, 998877665544332211\n"
        "api_base = http://127.0.0.1:8090/\n"
        "[logging]\nmax_bytes = 512KiB\nfile = logs/bot.log\nloggers = pterodisbot.monitor=debug\n",
    )

    settings = load_settings(config, env=SECRETS)

    assert settings.monitoring.server_list_refresh == 300
    assert settings.monitoring.forced_refresh == 3600
    assert settings.monitoring.servers == ("1a2b3c4d", "deadbeef")
    assert settings.discord.guild_ids == (112233445566778899, 998877665544332211)
    assert settings.discord.api_base == "http://127.0.0.1:8090"
    assert settings.logging.max_bytes == 512 * 1024
    assert settings.logging.file == tmp_path.resolve() / "logs" / "bot.log"
    assert settings.logging.loggers == {"pterodisbot.monitor": 10}


def test_an_application_key_type_is_allowed_with_a_warning() -> None:
    settings = settings_from_sections(
        {"pterodactyl": {"url": "https://p.example.com", "key_type": "application"}},
        env={**SECRETS, "PTERODACTYL_API_KEY": "ptla_" + "a" * 43},
    )
    assert settings.pterodactyl.key_type == "application"
    assert any("403" in warning and "client key" in warning for warning in settings.warnings)


def test_an_application_key_under_key_type_client_is_a_problem() -> None:
    with pytest.raises(ConfigValidationError) as excinfo:
        settings_from_sections(
            {"pterodactyl": {"url": "https://p.example.com"}},
            env={**SECRETS, "PTERODACTYL_API_KEY": "ptla_" + "b" * 43},
        )
    (line,) = problems_of(excinfo)
    assert line.startswith("pterodactyl.api_key (PTERODACTYL_API_KEY in the environment): '***'")
    assert "ptlc_" in line
    assert "b" * 43 not in line


def test_a_token_pasted_with_its_bot_prefix_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigValidationError) as excinfo:
        settings_from_sections(MINIMAL_SECTIONS, env={**SECRETS, "DISCORD_TOKEN": f"Bot {TOKEN}"})
    (line,) = problems_of(excinfo)
    assert "without 'Bot '" in line
    assert TOKEN not in line


MINIMAL_SECTIONS = {"pterodactyl": {"url": "https://panel.example.com"}}


def test_missing_secrets_are_allowed_when_not_required() -> None:
    settings = settings_from_sections(MINIMAL_SECTIONS, env={}, require_secrets=False)
    assert not settings.discord.token
    assert not settings.pterodactyl.api_key
    assert settings.secret_values() == ()


def test_secret_never_shows_its_value() -> None:
    secret = Secret(TOKEN)
    assert str(secret) == "***"
    assert repr(secret) == "Secret('***')"
    assert f"{secret}" == "***"
    assert secret.reveal() == TOKEN
    assert secret == Secret(TOKEN)
    with pytest.raises(AttributeError):
        secret._value = "other"  # type: ignore[misc]


def test_settings_repr_and_asdict_show_no_secret() -> None:
    settings = settings_from_sections(MINIMAL_SECTIONS, env=SECRETS)
    for text in (repr(settings), str(dataclasses.asdict(settings))):
        assert TOKEN not in text
        assert API_KEY not in text
    assert settings.secret_values() == (TOKEN, API_KEY)


def test_settings_are_frozen() -> None:
    settings = settings_from_sections(MINIMAL_SECTIONS, env=SECRETS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.monitoring.poll_interval = 1  # type: ignore[misc]


def test_permission_keys_become_role_rules_and_server_sections_overrides() -> None:
    settings = settings_from_sections(
        {
            **MINIMAL_SECTIONS,
            "permissions": {"start": "Operators, 112233445566778899", "kill": "@everyone"},
            "permissions.1A2B3C4D": {"start": "Minecraft Mods"},
        },
        env=SECRETS,
    )
    perms = settings.permissions

    assert perms.rules[Action.START] == RoleRule(
        everyone=False,
        role_ids=frozenset({112233445566778899}),
        role_names=frozenset({"operators"}),
    )
    assert perms.rules[Action.KILL] == RoleRule(everyone=True)
    assert perms.rules[Action.STATUS] == RoleRule(everyone=True)  # empty: everyone
    assert perms.rules[Action.STOP] == RoleRule(
        everyone=False, role_names=frozenset({"server operator"})
    )
    assert perms.rules[Action.ADMIN] == RoleRule(everyone=False, role_names=frozenset({"admin"}))
    assert perms.allow_administrator is True
    # Panel identifiers are matched case-blind: the section name is lower-cased.
    assert perms.overrides == {
        "1a2b3c4d": {
            Action.START: RoleRule(everyone=False, role_names=frozenset({"minecraft mods"}))
        }
    }


def test_administrators_get_no_bypass_when_it_is_turned_off() -> None:
    settings = settings_from_sections(
        {**MINIMAL_SECTIONS, "permissions": {"allow_administrator": "false"}}, env=SECRETS
    )
    assert settings.permissions.allow_administrator is False
    assert not settings.permissions.allows(
        Action.STOP,
        server_identifier=None,
        role_ids=[],
        role_names=[],
        is_administrator=True,
    )


def test_a_budget_too_small_for_the_listed_servers_warns() -> None:
    servers = ",".join(f"{i:08x}" for i in range(20))
    settings = settings_from_sections(
        {
            **MINIMAL_SECTIONS,
            "pterodactyl": {"url": "https://p.example.com", "requests_per_minute": "60"},
            "monitoring": {"servers": servers, "poll_interval": "10", "source": "poll"},
        },
        env=SECRETS,
    )
    assert any("needs about 120 requests/min" in warning for warning in settings.warnings)


def test_streaming_counts_token_requests_not_polls_in_the_budget_warning() -> None:
    servers = ",".join(f"{i:08x}" for i in range(2000))
    settings = settings_from_sections(
        {
            **MINIMAL_SECTIONS,
            "pterodactyl": {"url": "https://p.example.com", "requests_per_minute": "400"},
            "monitoring": {"servers": servers, "poll_interval": "10"},
        },
        env=SECRETS,
    )
    # 2,000 × 60 / 510 s + the list every 300 s = 235.5 a minute, above half of 400.
    assert [w for w in settings.warnings if "requests/min" in w] == [
        "streaming 2000 server(s) needs about 235 token requests/min, above the 200/min (half "
        "of pterodactyl.requests_per_minute = 400) kept for them: tokens will be renewed late "
        "and sockets reopened; raise the budget"
    ]


def test_streaming_a_fleet_polling_could_not_keep_up_with_gives_no_budget_warning() -> None:
    servers = ",".join(f"{i:08x}" for i in range(20))
    settings = settings_from_sections(
        {
            **MINIMAL_SECTIONS,
            "pterodactyl": {"url": "https://p.example.com", "requests_per_minute": "60"},
            "monitoring": {"servers": servers, "poll_interval": "10", "source": "auto"},
        },
        env=SECRETS,
    )
    assert [w for w in settings.warnings if "requests/min" in w] == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("this line has no section\n", "config.ini line 1"),
        (MINIMAL + "just words\n", "config.ini line 3"),
        (MINIMAL + "[pterodactyl]\n", "config.ini line 3"),
        (MINIMAL + "url = https://other.example.com\n", "pterodactyl.url: set twice (line 3)"),
    ],
)
def test_a_malformed_file_is_a_problem_line_not_a_traceback(
    tmp_path: Path, text: str, where: str
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(config, env=SECRETS)
    assert any(line.startswith(where) for line in problems_of(excinfo)), problems_of(excinfo)


def test_an_unreadable_config_path_is_a_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError) as excinfo:
        load_settings(tmp_path, env=SECRETS)  # a directory, not a file
    assert f"config file {str(tmp_path)!r}: is a directory" in str(excinfo.value)


def test_the_config_path_defaults_to_the_pterodisbot_config_variable(tmp_path: Path) -> None:
    config = write(tmp_path, "[pterodactyl]\nurl = https://from-variable.example.com\n", "x.ini")
    settings = load_settings(env={**SECRETS, "PTERODISBOT_CONFIG": str(config)})
    assert settings.pterodactyl.host == "from-variable.example.com"
    assert settings.config_path == config


def test_history_defaults_to_a_sqlite_file_beside_the_config(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL)
    settings = load_settings(config, env=SECRETS, dotenv_path=None)
    assert settings.history.url.kind == "sqlite"
    assert settings.history.url.path == tmp_path / "data" / "history.sqlite3"
    assert settings.history.flush_interval == 10
    assert settings.history.buffer_limit == 200_000


def test_history_url_forms(tmp_path: Path) -> None:
    def url(text: str) -> object:
        sections = {**MINIMAL_SECTIONS, "history": {"url": text}}
        return settings_from_sections(sections, env=SECRETS, base_dir=tmp_path).history.url

    absolute = url("sqlite:////var/lib/pdb/h.sqlite3")
    assert absolute.path == Path("/var/lib/pdb/h.sqlite3")  # type: ignore[attr-defined]
    assert url("none").enabled is False  # type: ignore[attr-defined]
    pg = url("postgres://bot:hunter2secret@db.example:5432/pdb")
    assert pg.kind == "postgresql"  # type: ignore[attr-defined]
    assert pg.dsn.reveal() == "postgresql://bot:hunter2secret@db.example:5432/pdb"  # type: ignore[attr-defined]
    assert pg.shown == "postgresql://bot:***@db.example:5432/pdb"  # type: ignore[attr-defined]


def test_a_database_password_is_never_shown_and_is_redacted_from_logs(tmp_path: Path) -> None:
    env = {**SECRETS, "PTERODISBOT_HISTORY_URL": "postgresql://bot:hunter2secret@db.example/pdb"}
    settings = settings_from_sections(MINIMAL_SECTIONS, env=env, base_dir=tmp_path)
    assert "hunter2secret" in settings.secret_values()
    assert "hunter2secret" not in repr(settings)
    bad = {**SECRETS, "PTERODISBOT_HISTORY_URL": "mysql://bot:hunter2secret@db.example/pdb"}
    with pytest.raises(ConfigValidationError) as excinfo:
        settings_from_sections(MINIMAL_SECTIONS, env=bad, base_dir=tmp_path)
    (problem,) = problems_of(excinfo)
    assert problem.startswith("history.url")
    assert "mysql://bot:***@db.example/pdb" in problem
    assert "hunter2secret" not in problem


def test_history_size_auto_follows_the_graph_window(tmp_path: Path) -> None:
    sections = {
        **MINIMAL_SECTIONS,
        "monitoring": {"poll_interval": "5", "graph_window": "1h"},
    }
    settings = settings_from_sections(sections, env=SECRETS, base_dir=tmp_path)
    assert settings.monitoring.history_size == 3600 * 5 // 4 // 5 + 20
    fixed = {**MINIMAL_SECTIONS, "monitoring": {"history_size": "500"}}
    assert settings_from_sections(fixed, env=SECRETS).monitoring.history_size == 500
