#!/usr/bin/env bash
# Install what the browser test needs: Debian's chromium (the test drives it through Playwright,
# never Playwright's own browser download, which cannot be fetched here) and the pinned driver.
# Never fails the build: without apt or root the browser test skips and says why.
set -u
PY="${1:-.venv/bin/python}"

if [ -x /usr/bin/chromium ]; then
    echo "install-browser: chromium already at /usr/bin/chromium"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "install-browser: installing Debian's chromium (apt-get)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/tmp/pterodisbot-install-browser.log 2>&1; then
        echo "install-browser: apt-get could not install chromium (see" \
            "/tmp/pterodisbot-install-browser.log); the browser test will be skipped"
    fi
else
    echo "install-browser: no apt-get (or not root): chromium not installed; the browser" \
        "test will be skipped"
fi

# The driver is pinned in requirements-dev.txt; make sure it is there even in an older venv.
if ! "$PY" -c "import playwright" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "$(grep -i '^playwright==' requirements-dev.txt)" || \
        echo "install-browser: could not install playwright; the browser test will be skipped"
fi
exit 0
