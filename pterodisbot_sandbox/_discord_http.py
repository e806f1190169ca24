"""HTTP plumbing shared by the sandbox routes: Discord's error shape, JSON and multipart bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from pterodisbot_sandbox import discord_rules as rules
from pterodisbot_sandbox._discord_state import ATTACHMENT_SIZE_LIMIT, Json

# Codes `discord_rules` does not list among its well-known errors (those come from `known()`).
CODE_UNKNOWN_WEBHOOK = 10015
CODE_ENTITY_TOO_LARGE = 40005
CODE_CANNOT_EDIT_OTHERS = 50005
CODE_INVALID_WEBHOOK_TOKEN = 50027
CODE_INVALID_JSON = 50109

_FILE_FIELD = re.compile(r"^files\[(\d+)\]$|^file(\d*)$")


class ApiError(Exception):
    """An error answer in Discord's JSON shape."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = None if errors is None else dict(errors)
        self.headers = dict(headers or {})

    def body(self) -> Json:
        """Return the JSON body Discord would send."""
        return dict(rules.discord_error_body(self.code, self.message, self.errors))


def known(code: int, errors: Mapping[str, Any] | None = None) -> ApiError:
    """Return one of Discord's well-known errors, status and message as `discord_rules` has them.

    `code` is one of the rules' constants (`rules.MISSING_ACCESS`...); KeyError for any other.
    """
    error = rules.known_error(code)
    return ApiError(error.status, error.code, error.message, errors)


def invalid_form(errors: Mapping[str, Any] | None = None) -> ApiError:
    """Return the 400 50035 Invalid Form Body error for a nested `errors` object."""
    return known(rules.INVALID_FORM_BODY, errors)


def unknown_message() -> ApiError:
    """Return 404 10008."""
    return known(rules.UNKNOWN_MESSAGE)


def unknown_channel() -> ApiError:
    """Return 404 10003."""
    return known(rules.UNKNOWN_CHANNEL)


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file of a multipart request."""

    index: int
    field: str
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Body:
    """A parsed request body: the JSON payload and any uploaded files."""

    payload: Json = field(default_factory=dict)
    uploads: tuple[Upload, ...] = ()
    multipart: bool = False
    raw: Any = None

    def log_entry(self) -> Json:
        """Return what the request log shows of this body."""
        if self.multipart:
            return {
                "payload_json": self.payload,
                "files": [u.filename for u in self.uploads],
            }
        return {"json": self.raw}


# Where the API middleware leaves the parsed body for the handler.
BODY_KEY: web.RequestKey[Body] = web.RequestKey("body", Body)


async def read_body(request: web.Request) -> Body:
    """Parse a JSON or multipart/form-data (payload_json + files[n]) request body."""
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        payload: Any = {}
        uploads: list[Upload] = []
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            if part.filename is None and name == "payload_json":
                text = await part.text()
                try:
                    payload = json.loads(text)
                except ValueError:
                    raise ApiError(
                        400, CODE_INVALID_JSON, "The request body contains invalid JSON."
                    ) from None
                continue
            m = _FILE_FIELD.match(name)
            if part.filename is not None or m:
                data = bytes(await part.read(decode=False))
                if len(data) > ATTACHMENT_SIZE_LIMIT:
                    raise ApiError(413, CODE_ENTITY_TOO_LARGE, "Request entity too large")
                index = len(uploads)
                if m:
                    index = int(m.group(1) or m.group(2) or 0)
                uploads.append(Upload(index, name, part.filename or f"file{index}", data))
        if not isinstance(payload, dict):
            raise ApiError(400, CODE_INVALID_JSON, "The request body contains invalid JSON.")
        return Body(payload=payload, uploads=tuple(uploads), multipart=True, raw=payload)
    raw_bytes = await request.read()
    if not raw_bytes:
        return Body(raw=None)
    try:
        raw = json.loads(raw_bytes)
    except ValueError:
        raise ApiError(400, CODE_INVALID_JSON, "The request body contains invalid JSON.") from None
    if isinstance(raw, dict):
        return Body(payload=raw, raw=raw)
    return Body(raw=raw)


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return a JSON response whose Content-Type is exactly `application/json`.

    discord.py only parses a body as JSON when the header equals that string, so no charset.
    """
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )
