"""Without Chromium the browser test skips and says why, except under CI=true where it fails."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import REPO, subprocess_env

NOWHERE = "/nonexistent/chromium"


def run(*command: str, ci: bool) -> subprocess.CompletedProcess[str]:
    """Run `command` in the repository with Chromium pointed nowhere, in or out of CI."""
    env = subprocess_env(BROWSER_TEST_CHROMIUM=NOWHERE, **({"CI": "true"} if ci else {}))
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def browser_test(*, ci: bool) -> subprocess.CompletedProcess[str]:
    """Run tests/browser/test_demo_browser.py in a child pytest."""
    return run(
        sys.executable,
        "-m",
        "pytest",
        "tests/browser/test_demo_browser.py",
        "-q",
        "-rsE",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        ci=ci,
    )


@pytest.mark.slow
def test_without_chromium_the_browser_test_fails_in_ci_saying_why() -> None:
    result = browser_test(ci=True)

    assert result.returncode == 1, result.stdout
    assert "5 errors" in result.stdout, result.stdout
    assert (
        f"CI=true and the browser test cannot run: BROWSER_TEST_CHROMIUM={NOWHERE} "
        "is not an executable" in result.stdout
    ), result.stdout
    assert "skipped" not in result.stdout


@pytest.mark.slow
def test_without_chromium_the_browser_test_skips_outside_ci_saying_why() -> None:
    result = browser_test(ci=False)

    assert result.returncode == 0, result.stdout
    assert "5 skipped" in result.stdout, result.stdout
    assert (
        f"browser test skipped: BROWSER_TEST_CHROMIUM={NOWHERE} is not an executable"
        in result.stdout
    ), result.stdout


def test_install_script_fails_in_ci_when_it_cannot_provide_chromium() -> None:
    result = run("bash", "scripts/install-browser.sh", sys.executable, ci=True)

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"BROWSER_TEST_CHROMIUM={NOWHERE} is not an executable" in result.stderr
    assert "CI=true, so the build fails" in result.stderr


def test_install_script_only_warns_outside_ci_when_it_cannot_provide_chromium() -> None:
    result = run("bash", "scripts/install-browser.sh", sys.executable, ci=False)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert f"BROWSER_TEST_CHROMIUM={NOWHERE} is not an executable" in result.stdout
    assert "the browser test will be skipped" in result.stdout
