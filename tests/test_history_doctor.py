"""`doctor` opens the history store as the bot would: its size, or one line with the fix."""

from __future__ import annotations

from pathlib import Path

from pterodisbot_sandbox.panel import SimServerSpec
from tests.fixtures.panel import MakeSimPanel
from tests.fixtures.postgres import PASSWORD, PostgresCluster
from tests.test_doctor import KEY, doctor, settings_for
from tests.test_history_e2e import immutable

FLEET = [SimServerSpec(name="Survival", identifier="aaaa0001", state="running")]


def history_line(output: str) -> str:
    """Return the one line of the report about the history store."""
    lines = [line for line in output.splitlines() if "history" in line]
    assert len(lines) == 1, output
    return lines[0]


async def test_doctor_opens_a_sqlite_store_and_passes(
    make_sim_panel: MakeSimPanel, tmp_path: Path
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    path = tmp_path / "data" / "history.sqlite3"
    code, output = await doctor(
        settings_for(panel, sections={"history": {"url": f"sqlite:///{path}"}})
    )
    assert code == 0, output
    line = history_line(output)
    assert line.startswith(f"  ✓ history store sqlite:///{path} opens (")
    assert path.exists()


async def test_doctor_fails_naming_a_store_that_cannot_be_created(
    make_sim_panel: MakeSimPanel, tmp_path: Path
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    folder = tmp_path / "locked"
    folder.mkdir()
    url = f"sqlite:///{folder / 'history.sqlite3'}"
    with immutable(folder):
        code, output = await doctor(settings_for(panel, sections={"history": {"url": url}}))
    assert code == 1, output
    line = history_line(output)
    assert line.startswith(f"  ✗ history store {url} cannot be used (")
    assert "Traceback" not in output
    assert output.rstrip().endswith("fix the lines marked ✗ above")


async def test_doctor_names_a_refused_database_password_without_showing_it(
    make_sim_panel: MakeSimPanel, postgres_cluster: PostgresCluster
) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    wrong = "not-the-password-91c2"
    url = postgres_cluster.url("postgres", password=wrong)
    code, output = await doctor(settings_for(panel, sections={"history": {"url": url}}))
    assert code == 1, output
    line = history_line(output)
    assert line.startswith(
        f"  ✗ history store postgresql://postgres:***@127.0.0.1:{postgres_cluster.port}/postgres "
        "cannot be used (auth): "
    )
    assert line.endswith(
        "correct the user and password in [history] url (PTERODISBOT_HISTORY_URL in .env)"
    )
    assert wrong not in output
    assert PASSWORD not in output


async def test_doctor_says_history_is_off_and_passes(make_sim_panel: MakeSimPanel) -> None:
    panel = await make_sim_panel(api_key=KEY, fleet=FLEET)
    code, output = await doctor(settings_for(panel))
    assert code == 0, output
    assert history_line(output) == (
        "  ! history off ([history] url = none): no /server_history, and the live graphs start "
        "empty after a restart"
    )
