#!/usr/bin/env bash
# Pin requirements.txt (what the bot runs on) and requirements-dev.txt (that plus what `make test`
# needs) from pyproject.toml with uv, or check that the committed pins still match pyproject.toml.
#
#   scripts/lock.sh          write both files (`make lock`); a pin that still fits is kept as is
#   scripts/lock.sh --check  change nothing; fail, naming the file, when `make lock` would change it
#
# One resolution for every platform and Python the project supports (--universal), so the same
# files serve this venv (3.11+) and the Docker image (3.12). Needs PyPI, like `make` itself.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
COMMON=(--quiet --universal --python-version 3.11)

if [[ "${1:-}" != "--check" ]]; then
    "$UV" pip compile pyproject.toml "${COMMON[@]}" --custom-compile-command "make lock" \
        -o requirements.txt
    "$UV" pip compile pyproject.toml "${COMMON[@]}" --custom-compile-command "make lock" \
        --extra dev -c requirements.txt -o requirements-dev.txt
    exit 0
fi

# The committed pins are given as constraints: the resolution can only reproduce them, drop what
# pyproject.toml no longer asks for, add what it newly asks for, or fail when a range moved away.
work=$(mktemp -d "${TMPDIR:-/tmp}/pterodisbot-lock.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$UV" pip compile pyproject.toml "${COMMON[@]}" --no-header --no-annotate \
    -c requirements.txt -o "$work/requirements.txt" \
    || { echo "requirements.txt no longer fits pyproject.toml: run 'make lock' and commit" >&2; exit 1; }
"$UV" pip compile pyproject.toml "${COMMON[@]}" --no-header --no-annotate --extra dev \
    -c requirements.txt -c requirements-dev.txt -o "$work/requirements-dev.txt" \
    || { echo "requirements-dev.txt no longer fits pyproject.toml: run 'make lock' and commit" >&2; exit 1; }
status=0
for file in requirements.txt requirements-dev.txt; do
    if ! diff -u --label "$file (committed)" --label "$file (from pyproject.toml)" \
        <(grep -v '^[[:space:]]*#' "$file") "$work/$file"; then
        echo "$file is out of sync with pyproject.toml: run 'make lock' and commit the result" >&2
        status=1
    fi
done
[[ $status -eq 0 ]] && echo "requirements.txt and requirements-dev.txt match pyproject.toml"
exit $status
