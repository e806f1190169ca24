#!/usr/bin/env bash
# Install what the PostgreSQL history-store tests need: Debian's PostgreSQL server binaries
# (initdb, pg_ctl, postgres). The tests start a throwaway cluster of their own on a free port;
# nothing here starts a service. Outside CI it never fails the build: without apt or root the
# PostgreSQL tests skip and say why. Under CI=true what it cannot install fails the build.
set -u
case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
    true | 1 | yes) IN_CI=1 ;;
    *) IN_CI=0 ;;
esac

have_initdb() {
    if [ -n "${PTERODISBOT_PG_BIN:-}" ]; then
        [ -x "$PTERODISBOT_PG_BIN/initdb" ]
        return
    fi
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null 2>&1 && return 0
    command -v initdb >/dev/null 2>&1
}

cannot() {
    if [ "$IN_CI" = 1 ]; then
        echo "install-postgres: $1; CI=true, so the build fails" >&2
        exit 1
    fi
    echo "install-postgres: $1; the PostgreSQL tests will be skipped"
    exit 0
}

if [ -n "${PTERODISBOT_PG_BIN:-}" ]; then
    # The tests use these binaries and no others: installing Debian's would not help.
    have_initdb || cannot "PTERODISBOT_PG_BIN=$PTERODISBOT_PG_BIN has no initdb"
    echo "install-postgres: PostgreSQL server is PTERODISBOT_PG_BIN=$PTERODISBOT_PG_BIN"
elif have_initdb; then
    echo "install-postgres: PostgreSQL server already installed"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "install-postgres: installing Debian's postgresql (apt-get)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
        >/tmp/pterodisbot-install-postgres.log 2>&1 || ! have_initdb; then
        cannot "apt-get could not install postgresql (see /tmp/pterodisbot-install-postgres.log)"
    fi
else
    cannot "no apt-get (or not root): PostgreSQL not installed"
fi
# PostgreSQL refuses to run as root: the tests start it as this user.
if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    cannot "running as root but there is no 'postgres' user to run the server as"
fi
exit 0
