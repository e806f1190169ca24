#!/usr/bin/env bash
# Install what the browser test needs: Debian's chromium (the test drives it through Playwright,
# never Playwright's own browser download, which cannot be fetched here) and the pinned driver.
# Outside CI it never fails the build: without apt or root the browser test skips and says why.
# Under CI=true what it cannot install fails it: CI must not pass without the browser test.
set -u
PY="${1:-.venv/bin/python}"
CHROMIUM="/usr/bin/chromium"
case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
    true | 1 | yes) IN_CI=1 ;;
    *) IN_CI=0 ;;
esac
status=0

# Say why the browser test cannot run; under CI that is an error.
cannot() {
    if [ "$IN_CI" = 1 ]; then
        echo "install-browser: $1; CI=true, so the build fails" >&2
        status=1
    else
        echo "install-browser: $1; the browser test will be skipped"
    fi
}

have_chromium() {
    [ -x "$CHROMIUM" ] || command -v chromium >/dev/null 2>&1
}

if [ -n "${BROWSER_TEST_CHROMIUM:-}" ]; then
    # The test uses this executable and no other: installing Debian's would not help.
    if [ -x "$BROWSER_TEST_CHROMIUM" ]; then
        echo "install-browser: chromium is BROWSER_TEST_CHROMIUM=$BROWSER_TEST_CHROMIUM"
    else
        cannot "BROWSER_TEST_CHROMIUM=$BROWSER_TEST_CHROMIUM is not an executable"
    fi
elif have_chromium; then
    echo "install-browser: chromium already installed"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "install-browser: installing Debian's chromium (apt-get)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/tmp/pterodisbot-install-browser.log 2>&1 || ! have_chromium; then
        cannot "apt-get could not install chromium (see /tmp/pterodisbot-install-browser.log)"
    fi
else
    cannot "no apt-get (or not root): chromium not installed"
fi

# The driver is pinned in requirements-dev.txt; make sure it is there even in an older venv.
if ! "$PY" -c "import playwright" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "$(grep -i '^playwright==' requirements-dev.txt)" ||
        cannot "could not install playwright"
fi
exit "$status"
