#!/usr/bin/env bash
# Run the Dockerfile's install steps in a fresh virtualenv, so a broken image is caught without a
# Docker engine: the same COPY layout, the same `pip install` commands in the same order, then the
# image's own smoke checks (the CMD's entry point, check-config on the example, the HEALTHCHECK).
#
# Differences from a real `docker build`, on purpose or by necessity:
#   - the interpreter is python3.12 if this machine has one (the image's), else python3;
#   - pip may use this machine's cache and index settings (the image runs with --no-cache-dir);
#   - the base image, the non-root user, file ownership and volumes are not exercised here
#     (tests/test_docker.py checks those statically).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The image's Python (3.12) when this machine has a working one, else the default python3.
pick_python() {
    local candidates=(python3.12)
    if command -v pyenv > /dev/null 2>&1; then
        candidates+=("$(pyenv root)"/versions/3.12*/bin/python3.12)
    fi
    candidates+=(python3)
    for candidate in "${candidates[@]}"; do
        if "$candidate" -c "import sys" > /dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    echo "no working python3 found" >&2
    exit 1
}
PYTHON=${PYTHON:-$(pick_python)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pterodisbot-docker-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
APP=$WORK/app
mkdir -p "$APP"

# The Dockerfile's COPY and RUN instructions, continuation lines joined, in order.
steps=$("$PYTHON" - "$ROOT/Dockerfile" <<'PY'
import shlex, sys
lines, current = [], ""
for raw in open(sys.argv[1], encoding="utf-8"):
    line = raw.rstrip("\n")
    if not current and (not line.strip() or line.lstrip().startswith("#")):
        continue
    if line.endswith("\\"):
        current += line[:-1] + " "
        continue
    lines.append(current + line)
    current = ""
for line in lines:
    word, _, rest = line.strip().partition(" ")
    if word == "COPY":
        print("COPY\t" + "\t".join(shlex.split(rest)))
    elif word == "RUN" and "pip install" in rest:
        print("RUN\t" + rest.strip())
PY
)

echo "fresh virtualenv with $("$PYTHON" --version)"
"$PYTHON" -m venv "$WORK/venv"
export PATH="$WORK/venv/bin:$PATH"
export PIP_DISABLE_PIP_VERSION_CHECK=1

while IFS=$'\t' read -r kind rest; do
    if [ "$kind" = COPY ]; then
        IFS=$'\t' read -r -a parts <<< "$rest"
        dest=${parts[-1]}
        unset 'parts[-1]'
        for src in "${parts[@]}"; do
            if [[ "$dest" == */ ]]; then
                mkdir -p "$APP/$dest"
                cp -R "$ROOT/$src" "$APP/$dest"
            else
                mkdir -p "$(dirname "$APP/$dest")"
                cp -R "$ROOT/$src" "$APP/$dest"
            fi
        done
        echo "COPY ${parts[*]} -> $dest"
    else
        # The image never keeps pip's cache; here the machine's cache keeps `make test` quick.
        command=${rest//--no-cache-dir/}
        echo "RUN $command"
        (cd "$APP" && bash -euo pipefail -c "$command")
    fi
done <<< "$steps"

cd "$APP"
echo "smoke checks"
pip check
python -m pterodisbot --version
python -c "import pterodisbot.app, pterodisbot.web, prometheus_client, matplotlib, discord"
DISCORD_TOKEN=MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456 \
PTERODACTYL_API_KEY=ptlc_Z9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeDcBaZyX \
PTERODISBOT_HTTP_ENABLED=true PTERODISBOT_HTTP_HOST=0.0.0.0 \
    python -m pterodisbot check-config --config config.example.ini > /dev/null
# The HEALTHCHECK command exists and says "unhealthy" (exit 1) when nothing listens.
if python -m pterodisbot.web.probe --url http://127.0.0.1:9/healthz --timeout 2 2> /dev/null; then
    echo "the health probe answered healthy with nothing listening" >&2
    exit 1
fi
# The sandboxes stay out of the image, and `demo` says so in one line instead of a traceback.
if python -c "import pterodisbot_sandbox" 2> /dev/null; then
    echo "the image installed pterodisbot_sandbox: it should hold the bot only" >&2
    exit 1
fi
if demo_error=$(python -m pterodisbot demo 2>&1 > /dev/null); then
    echo "python -m pterodisbot demo ran in the image, which has no sandboxes" >&2
    exit 1
fi
if [ "$(printf '%s\n' "$demo_error" | wc -l)" -ne 1 ] || [[ "$demo_error" != "pterodisbot demo: "* ]]; then
    printf 'python -m pterodisbot demo should explain itself in one line, said:\n%s\n' "$demo_error" >&2
    exit 1
fi
echo "docker install check: OK"
