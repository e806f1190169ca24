"""The simulated panel's HTTP shapes: its error envelope, HTML pages and request bodies."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from html import escape
from types import MappingProxyType
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

REASONS: Mapping[int, str] = MappingProxyType(
    {
        302: "Found",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        422: "Unprocessable Content",
        429: "Too Many Requests",
        500: "Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
)


class ApiError(Exception):
    """An error the panel answers with `{"errors": [...]}` (or an HTML page)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        meta: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.meta = dict(meta) if meta else None
        self.headers = dict(headers) if headers else {}

    def body(self) -> JSON:
        error: JSON = {"code": self.code, "status": str(self.status), "detail": self.detail}
        if self.meta is not None:
            error["meta"] = self.meta
        return {"errors": [error]}


def wants_json(request: web.Request) -> bool:
    return "json" in request.headers.get("Accept", "").lower()


def origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def html_page(title: str, message: str, *, server: str | None = None) -> str:
    footer = f"<hr><center>{escape(server)}</center>" if server else ""
    return (
        f"<!DOCTYPE html><html><head><title>{escape(title)}</title></head>"
        f"<body><center><h1>{escape(title)}</h1><p>{escape(message)}</p></center>"
        f"{footer}</body></html>"
    )


def garbage(hit: int) -> web.Response:
    """Answer 200 with something a client must not take for a panel answer."""
    variant = hit % 3
    if variant == 0:
        return web.Response(
            text=html_page("Just a moment...", "Checking your browser before accessing."),
            content_type="text/html",
        )
    if variant == 1:
        return web.Response(
            text='{"object": "stats", "attributes": {"current_state": "runn',
            content_type="application/json",
        )
    return web.json_response({"object": "list", "data": "maintenance", "attributes": None})


def route_error(request: web.Request, error: web.HTTPException) -> ApiError:
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(error.allowed_methods))
        return ApiError(
            405,
            "MethodNotAllowedHttpException",
            f"The {request.method} method is not supported for route "
            f"{request.path.lstrip('/')}. Supported methods: {allowed}.",
        )
    return ApiError(
        404,
        "NotFoundHttpException",
        f"The route {request.path.lstrip('/')} could not be found.",
    )


def validation_error(field: str, rule: str, detail: str) -> ApiError:
    return ApiError(422, "ValidationException", detail, meta={"source_field": field, "rule": rule})


def is_json(request: web.Request) -> bool:
    content_type = request.headers.get("Content-Type", "").lower()
    return "/json" in content_type or "+json" in content_type


async def reject_malformed_json(request: web.Request) -> None:
    """Refuse a JSON body that does not parse, as the panel's `IsValidJson` middleware does."""
    if not is_json(request) or not request.can_read_body:
        return
    raw = await request.text()
    if not raw:
        return
    try:
        json.loads(raw)
    except ValueError:
        raise ApiError(
            400,
            "BadRequestHttpException",
            "The JSON data passed in the request appears to be malformed: Syntax error",
        ) from None


async def read_body(request: web.Request) -> JSON:
    """Read a JSON (or form) body as the panel does; anything else is an empty object."""
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.text()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def sim_body(request: web.Request) -> JSON:
    raw = await request.text()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise sim_error(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise sim_error(400, "the body must be a JSON object")
    return body


def sim_error(status: int, message: str) -> web.HTTPException:
    error_class = SIM_ERRORS[status]
    return error_class(text=json.dumps({"error": message}), content_type="application/json")


SIM_ERRORS: Mapping[int, type[web.HTTPException]] = MappingProxyType(
    {
        400: web.HTTPBadRequest,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        422: web.HTTPUnprocessableEntity,
    }
)


def int_param(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return default


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
