"""Console and rotating-file logging, with every secret scrubbed before it is written."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from typing import Final, TextIO

from pterodisbot.config import API_KEY_PATTERN, LoggingSettings, Secret

log = logging.getLogger(__name__)

REDACTED: Final = "***"
CONSOLE_HANDLER_NAME: Final = "pterodisbot.console"
FILE_HANDLER_NAME: Final = "pterodisbot.file"
LOG_FORMAT: Final = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"

# Secrets shorter than this are not searched for: replacing "abc" everywhere would garble logs.
_MIN_SECRET_LENGTH: Final = 4

# Credentials recognisable by shape even when nobody told us their value.
_SHAPES: Final = (
    API_KEY_PATTERN,  # Pterodactyl and Pelican API keys
    re.compile(r"(?<=\bBearer )\s*[A-Za-z0-9._~+/=-]+", re.IGNORECASE),  # Authorization headers
    # Discord bot tokens: base64 user id . timestamp . HMAC
    re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),  # JWTs (Wings tokens)
)

# Secrets known by where they sit; the part before them (group 1) stays so the line still says
# what was called.
_PLACES: Final = (
    # Interaction and webhook tokens in URLs (discord.py logs them at DEBUG):
    # /interactions/<id>/<token>/callback, /webhooks/<application or webhook id>/<token>/...
    re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/?#\s'\"]+"),
    # A payload's "token" field (discord.py logs each gateway event, INTERACTION_CREATE too).
    re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+"""),
)


class RedactingFilter(logging.Filter):
    """Replace known secrets, API keys, bearer, JWT and interaction tokens with *** in records."""

    def __init__(self, secrets: Iterable[str | Secret] = ()) -> None:
        super().__init__()
        values = {s.reveal() if isinstance(s, Secret) else s for s in secrets}
        # Longest first, so a secret containing another is replaced whole.
        known = sorted((v for v in values if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def redact(self, text: str) -> str:
        """Return `text` with every secret replaced by ***."""
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        for shape in _SHAPES:
            text = shape.sub(REDACTED, text)
        for place in _PLACES:
            text = place.sub(rf"\g<1>{REDACTED}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place (message, arguments, traceback, stack); never drop it."""
        try:
            message = record.getMessage()
        # A broken format string must neither crash the caller nor skip redaction.
        except Exception:
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(
    settings: LoggingSettings,
    secrets: Iterable[str | Secret] = (),
    *,
    stream: TextIO | None = None,
) -> RedactingFilter:
    """Install the console handler, the optional rotating file and per-logger levels.

    Calling it again replaces the handlers it installed before. Raises OSError if the log file
    cannot be opened, so a bad path fails at startup rather than at the first log line.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.name in {CONSOLE_HANDLER_NAME, FILE_HANDLER_NAME}:
            root.removeHandler(handler)
            handler.close()

    redactor = RedactingFilter(secrets)
    formatter = logging.Formatter(LOG_FORMAT)
    handlers: list[logging.Handler] = []

    console = logging.StreamHandler(stream if stream is not None else sys.stderr)
    console.name = CONSOLE_HANDLER_NAME
    handlers.append(console)

    if settings.file is not None:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            settings.file,
            maxBytes=settings.max_bytes,
            backupCount=settings.backup_count,
            encoding="utf-8",
        )
        rotating.name = FILE_HANDLER_NAME
        handlers.append(rotating)

    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redactor)
        root.addHandler(handler)

    root.setLevel(settings.level)
    for name, level in settings.loggers.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(True)
    log.debug("logging configured: level %s", logging.getLevelName(settings.level))
    return redactor
