# syntax=docker/dockerfile:1
# Pterodisbot in a container. Build: docker build -t pterodisbot .
# Run (see README, "Running in Docker"):
#   docker run -d --name pterodisbot --env-file .env \
#     -v "$PWD/config.ini:/app/config.ini:ro" -v pterodisbot-embed:/app/embed \
#     -v pterodisbot-data:/app/data pterodisbot
# Pinned to an exact Python release and Debian base, so a rebuild gets the same interpreter.
FROM python:3.12.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PTERODISBOT_CONFIG=/app/config.ini \
    PTERODISBOT_HTTP_ENABLED=true \
    PTERODISBOT_HTTP_HOST=0.0.0.0 \
    PTERODISBOT_HTTP_PORT=9550

WORKDIR /app

# A fixed uid/gid, so a bind-mounted embed/ or data/ folder can be chowned to it on the host.
RUN groupadd --system --gid 10001 pterodisbot \
    && useradd --system --uid 10001 --gid pterodisbot --home-dir /app \
        --shell /usr/sbin/nologin pterodisbot

# Dependencies in their own layer: rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Then the code (changes often, installs in seconds; its dependencies are already there).
COPY pyproject.toml README.md ./
COPY pterodisbot ./pterodisbot
RUN pip install --no-cache-dir --no-deps . \
    && python -m pterodisbot --version

# The documented example, for reference; mount your own config.ini over /app/config.ini.
COPY config.ini ./config.example.ini
RUN mkdir -p /app/embed /app/data \
    && chown pterodisbot:pterodisbot /app/embed /app/data

USER pterodisbot

# embed/: which messages are status embeds (and the audit trail): keep it, or restarts post anew.
# data/: logs and history, if config.ini puts them there.
VOLUME ["/app/embed", "/app/data"]
EXPOSE 9550

# SIGTERM: stop polling, flush embed locations and audit, close the gateway, within 8 s.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "pterodisbot.web.probe"]

ENTRYPOINT ["python", "-m", "pterodisbot"]
CMD ["run"]
