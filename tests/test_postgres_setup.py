"""The throwaway PostgreSQL the store tests use: real, private, and never silently missing in CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.fixtures.postgres import PASSWORD, PostgresCluster
from tests.processes import subprocess_env

REPO = Path(__file__).resolve().parents[1]
NOWHERE = "/nonexistent/postgresql/bin"


async def test_a_fresh_database_is_empty_and_answers(postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url, timeout=10)
    try:
        tables = await connection.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0
        assert (
            await connection.fetchval("SELECT current_database()") == postgres_url.rsplit("/", 1)[1]
        )
    finally:
        await connection.close()


async def test_a_wrong_password_is_refused(postgres_cluster: PostgresCluster) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(postgres_cluster.url(password="not-" + PASSWORD), timeout=10)


async def test_an_own_cluster_stops_and_starts_again(own_postgres_cluster: PostgresCluster) -> None:
    url = own_postgres_cluster.url()
    own_postgres_cluster.stop()
    with pytest.raises(ConnectionRefusedError):
        await asyncpg.connect(url, timeout=5)
    own_postgres_cluster.start()
    connection = await asyncpg.connect(url, timeout=10)
    try:
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()


def _run(command: list[str], *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(PTERODISBOT_PG_BIN=NOWHERE, **({"CI": "true"} if ci else {}))
    return subprocess.run(
        command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("ci", [False, True])
def test_without_postgresql_the_tests_skip_saying_why_except_in_ci(ci: bool) -> None:
    test = "tests/test_postgres_setup.py::test_a_fresh_database_is_empty_and_answers"
    done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], ci=ci)
    if ci:
        assert done.returncode == 1, done.stdout
        assert "CI=true and the PostgreSQL tests cannot run" in done.stdout
    else:
        assert done.returncode == 0, done.stdout
        assert "1 skipped" in done.stdout
        assert (
            "PostgreSQL tests skipped: PostgreSQL's server (initdb) is not installed" in done.stdout
        )


@pytest.mark.parametrize("ci", [False, True])
def test_the_install_script_fails_only_in_ci(ci: bool) -> None:
    done = _run(["bash", "scripts/install-postgres.sh"], ci=ci)
    assert done.returncode == (1 if ci else 0)
    said = done.stderr if ci else done.stdout
    assert f"PTERODISBOT_PG_BIN={NOWHERE} has no initdb" in said
