"""Typed errors for everything that can go wrong when talking to the panel.

Each message is written for the operator reading the log at 2 a.m.: what happened, on which call,
and what to check. None of them ever contains the API key; the client redacts anything the panel
echoes back before it reaches an error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict, Unpack


class ErrorContext(TypedDict, total=False):
    """Where a failed call went and what the panel said, shared by every error."""

    status: int | None
    code: str | None
    detail: str | None
    route: str | None
    server_id: str | None


class PanelError(Exception):
    """Raise when a call to the panel fails; base of every panel error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        route: str | None = None,
        server_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # HTTP status of the panel's answer; None when no answer came (timeout, refused...).
        self.status = status
        # The panel's `errors[0].code`, e.g. "ServerStateConflictException".
        self.code = code
        # The panel's `errors[0].detail`, e.g. "This server is currently suspended...".
        self.detail = detail
        # Route template of the failed call, e.g. "GET /api/client/servers/{server}/resources".
        self.route = route
        self.server_id = server_id

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"route={self.route!r}, server_id={self.server_id!r}, message={self.message!r})"
        )


class AuthFailure(StrEnum):
    """Why the panel refused the key."""

    BAD_KEY = "bad_key"  # 401: wrong, revoked or missing key
    FORBIDDEN = "forbidden"  # 403: the key's user may not do this on this server
    APPLICATION_KEY = "application_key"  # 403: an application key (ptla_) on the client API


class PanelAuthError(PanelError):
    """Raise when the panel answers 401 or 403."""

    def __init__(
        self, message: str, *, reason: AuthFailure, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.reason = reason


class PanelNotFound(PanelError):
    """Raise when the panel answers 404: unknown server, or not visible to the key's user."""


class ConflictReason(StrEnum):
    """Why the server cannot do this now; the client reads it once from the panel's answer."""

    SUSPENDED = "suspended"  # 409: suspended by a panel admin
    NODE_MAINTENANCE = "node_maintenance"  # 409: its node is under maintenance
    INSTALLING = "installing"  # 409: not yet installed (installing, or the install failed)
    RESTORING_BACKUP = "restoring_backup"  # 409: a backup is being restored onto it
    TRANSFERRING = "transferring"  # 409: being moved to another node
    OFFLINE = "offline"  # 502 to a console command: the server is not running
    OTHER = "other"  # any other conflict, or a state the panel did not name


class PanelConflict(PanelError):
    """Raise when the server cannot do this now (409: suspended, installing, transferring...).

    Also raised for a console command sent to an offline server, which the panel reports as 502.
    `reason` says which; callers branch on it, never on the panel's words (`detail`).
    """

    def __init__(
        self, message: str, *, reason: ConflictReason, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.reason = reason


class PanelInvalidRequest(PanelError):
    """Raise when the panel rejects the request itself (400 malformed, 422 validation)."""

    def __init__(
        self, message: str, *, source_field: str | None = None, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.source_field = source_field


class PanelRateLimited(PanelError):
    """Raise when the panel answers 429 and waiting is not an option for this call."""

    def __init__(
        self, message: str, *, retry_after: float, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class UnavailableReason(StrEnum):
    """Why the panel could not be used."""

    SERVER_ERROR = "server_error"  # 5xx from the panel or a proxy in front of it
    NODE_DOWN = "node_down"  # 504 DaemonConnectionException: the panel cannot reach Wings
    TIMEOUT = "timeout"  # no complete answer within the client's timeout
    CONNECTION = "connection"  # refused, reset, DNS failure, closed mid-answer
    TLS = "tls"  # certificate or TLS handshake failure: retrying will not help


class PanelUnavailable(PanelError):
    """Raise when the panel (or the node behind it) cannot answer: 5xx, timeouts, connections."""

    def __init__(
        self, message: str, *, reason: UnavailableReason, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.reason = reason

    @property
    def node_down(self) -> bool:
        """Return True when the panel is up but the node (Wings) hosting the server is not."""
        return self.reason is UnavailableReason.NODE_DOWN


class PanelBadResponse(PanelError):
    """Raise when the panel's answer is not what its API promises (not JSON, wrong shape)."""

    def __init__(
        self, message: str, *, field: str | None = None, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        # Dotted path of the missing or malformed field, e.g. "attributes.limits.cpu".
        self.field = field
