"""Discord's payload rules as pure validators, for the local Discord sandbox.

The sandbox (`discord_server.py`) must refuse what real Discord refuses, with the same answer, so
that a bot that passes against the sandbox does not fail in production. Every function here is
pure: a payload goes in, Discord's nested ``errors`` object (or ``None``) comes out.

Sources: Discord's developer documentation (message, embed, component, interaction and
application-command limits) and the error codes Discord returns in its 50035 "Invalid Form Body"
answers. Where Discord's exact error code for a rule is not known, the code is named after the rule
and marked as the sandbox's own in a comment; the HTTP status and the error path match Discord's
conventions either way.

String lengths are counted in Unicode code points (``len(str)``), as Discord's API does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, Final, TypeGuard
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# --- Well-known JSON error codes (the top-level "code" of an error answer) -----------------------

GENERAL_ERROR: Final = 0  # used with "401: Unauthorized", "404: Not Found", ...
UNKNOWN_CHANNEL: Final = 10003
UNKNOWN_MESSAGE: Final = 10008
UNKNOWN_INTERACTION: Final = 10062
INTERACTION_ALREADY_ACKNOWLEDGED: Final = 40060
MISSING_ACCESS: Final = 50001
CANNOT_SEND_EMPTY_MESSAGE: Final = 50006
MISSING_PERMISSIONS: Final = 50013
INVALID_FORM_BODY: Final = 50035


@dataclass(frozen=True, slots=True)
class KnownError:
    """One of Discord's JSON error codes with the HTTP status and message it comes with."""

    code: int
    message: str
    status: int

    def body(self, errors: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the JSON body Discord sends for this error."""
        return discord_error_body(self.code, self.message, errors)


_KNOWN_ERRORS: Final = (
    KnownError(GENERAL_ERROR, "401: Unauthorized", 401),
    KnownError(UNKNOWN_CHANNEL, "Unknown Channel", 404),
    KnownError(UNKNOWN_MESSAGE, "Unknown Message", 404),
    KnownError(UNKNOWN_INTERACTION, "Unknown interaction", 404),
    KnownError(INTERACTION_ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.", 400),
    KnownError(MISSING_ACCESS, "Missing Access", 403),
    KnownError(CANNOT_SEND_EMPTY_MESSAGE, "Cannot send an empty message", 400),
    KnownError(MISSING_PERMISSIONS, "Missing Permissions", 403),
    KnownError(INVALID_FORM_BODY, "Invalid Form Body", 400),
)


def known_error(code: int) -> KnownError:
    """Return the message and HTTP status Discord uses for a well-known error code."""
    for known in _KNOWN_ERRORS:
        if known.code == code:
            return known
    raise KeyError(f"no well-known Discord error with code {code}")


def discord_error_body(
    code: int, message: str, errors: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build Discord's JSON error body; ``errors`` is left out when there are none."""
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = dict(errors)
    return body


def http_error_body(status: int) -> dict[str, Any]:
    """Build the code-0 body Discord sends for plain HTTP errors, e.g. "401: Unauthorized"."""
    return discord_error_body(GENERAL_ERROR, f"{status}: {HTTPStatus(status).phrase}")


def rate_limited_body(retry_after: float, global_: bool) -> dict[str, Any]:
    """Build the body of a 429 answer (the caller also sets the Retry-After headers)."""
    return {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_}


@dataclass(frozen=True, slots=True)
class Rejection:
    """An error answer the sandbox sends instead of carrying out a request."""

    status: int
    body: dict[str, Any] = field(hash=False)


def _form_body_rejection(errors: Mapping[str, Any]) -> Rejection:
    invalid = known_error(INVALID_FORM_BODY)
    return Rejection(invalid.status, invalid.body(errors))


# --- Discord's documented limits ------------------------------------------------------------------

MAX_CONTENT_LENGTH: Final = 2000
MAX_EMBEDS: Final = 10
MAX_EMBED_TITLE: Final = 256
MAX_EMBED_DESCRIPTION: Final = 4096
MAX_EMBED_FIELDS: Final = 25
MAX_EMBED_FIELD_NAME: Final = 256
MAX_EMBED_FIELD_VALUE: Final = 1024
MAX_EMBED_FOOTER_TEXT: Final = 2048
MAX_EMBED_AUTHOR_NAME: Final = 256
MAX_EMBED_TOTAL: Final = 6000
MAX_COLOR: Final = 0xFFFFFF
MAX_ATTACHMENTS: Final = 10
MAX_ATTACHMENT_DESCRIPTION: Final = 1024
MAX_STICKERS: Final = 3
MAX_MENTION_IDS: Final = 100
MAX_NONCE_LENGTH: Final = 25

MAX_ACTION_ROWS: Final = 5
MAX_ROW_WIDTH: Final = 5
MAX_CUSTOM_ID: Final = 100
MAX_BUTTON_LABEL: Final = 80
MAX_LINK_URL: Final = 512
MAX_SELECT_OPTIONS: Final = 25
MAX_SELECT_OPTION_TEXT: Final = 100
MAX_SELECT_PLACEHOLDER: Final = 150
MAX_SELECT_VALUES: Final = 25
MAX_V2_COMPONENTS: Final = 40
MAX_V2_TEXT: Final = 4000
MAX_MEDIA_DESCRIPTION: Final = 1024
MAX_GALLERY_ITEMS: Final = 10
MAX_SECTION_TEXTS: Final = 3

MAX_AUTOCOMPLETE_CHOICES: Final = 25
MAX_CHOICE_NAME: Final = 100
MAX_CHOICE_STRING_VALUE: Final = 100
MAX_MODAL_TITLE: Final = 45
MAX_MODAL_COMPONENTS: Final = 5
MAX_TEXT_INPUT_LABEL: Final = 45
MAX_TEXT_INPUT_PLACEHOLDER: Final = 100
MAX_TEXT_INPUT_LENGTH: Final = 4000
MAX_LABEL_DESCRIPTION: Final = 100

MAX_COMMAND_NAME: Final = 32
MAX_COMMAND_DESCRIPTION: Final = 100
MAX_COMMAND_OPTIONS: Final = 25
MAX_COMMAND_CHOICES: Final = 25
MAX_COMMAND_SIZE: Final = 8000
MAX_STRING_OPTION_LENGTH: Final = 6000
# Per type and scope: CHAT_INPUT, USER, MESSAGE, PRIMARY_ENTRY_POINT.
MAX_COMMANDS_PER_TYPE: Final = ((1, 100), (2, 5), (3, 5), (4, 1))

# Message flags (bit values) the validators look at.
FLAG_EPHEMERAL: Final = 1 << 6
FLAG_IS_COMPONENTS_V2: Final = 1 << 15

# Interaction callback types from Discord's table (10 is deprecated but still listed).
CALLBACK_PONG: Final = 1
CALLBACK_CHANNEL_MESSAGE: Final = 4
CALLBACK_DEFERRED_CHANNEL_MESSAGE: Final = 5
CALLBACK_DEFERRED_UPDATE_MESSAGE: Final = 6
CALLBACK_UPDATE_MESSAGE: Final = 7
CALLBACK_AUTOCOMPLETE_RESULT: Final = 8
CALLBACK_MODAL: Final = 9
CALLBACK_PREMIUM_REQUIRED: Final = 10
CALLBACK_LAUNCH_ACTIVITY: Final = 12
CALLBACK_TYPES: Final = (1, 4, 5, 6, 7, 8, 9, 10, 12)

# Component types.
ACTION_ROW: Final = 1
BUTTON: Final = 2
STRING_SELECT: Final = 3
TEXT_INPUT: Final = 4
SECTION: Final = 9
TEXT_DISPLAY: Final = 10
THUMBNAIL: Final = 11
MEDIA_GALLERY: Final = 12
FILE: Final = 13
SEPARATOR: Final = 14
CONTAINER: Final = 17
LABEL: Final = 18
SELECT_TYPES: Final = (3, 5, 6, 7, 8)
# Modal-only inputs that sit in a Label: file upload, radio group, checkbox group, checkbox.
MODAL_ONLY_INPUTS: Final = (19, 21, 22, 23)

# Where a component tree lives: a message or a modal accept different components.
_MESSAGE: Final = "message"
_MODAL: Final = "modal"

_MESSAGE_ROW_CHILDREN: Final = (BUTTON, *SELECT_TYPES)
_V1_TOP_LEVEL: Final = (ACTION_ROW,)
_V2_TOP_LEVEL: Final = (
    ACTION_ROW,
    SECTION,
    TEXT_DISPLAY,
    MEDIA_GALLERY,
    FILE,
    SEPARATOR,
    CONTAINER,
)
_CONTAINER_CHILDREN: Final = (ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR)
_MODAL_TOP_LEVEL: Final = (ACTION_ROW, TEXT_DISPLAY, LABEL)
_LABEL_CHILDREN: Final = (TEXT_INPUT, *SELECT_TYPES, *MODAL_ONLY_INPUTS)

_BUTTON_STYLES: Final = (1, 2, 3, 4, 5, 6)
_LINK_STYLE: Final = 5
_PREMIUM_STYLE: Final = 6
_TEXT_INPUT_STYLES: Final = (1, 2)
_SEPARATOR_SPACINGS: Final = (1, 2)
_MENTION_PARSE: Final = ("roles", "users", "everyone")

_HTTP_SCHEMES: Final = ("http", "https")
_LINK_BUTTON_SCHEMES: Final = ("http", "https", "discord")
_ATTACHMENT_PREFIX: Final = "attachment://"

_COMMAND_TYPES: Final = (1, 2, 3, 4)
_CHAT_INPUT: Final = 1
_SUB_COMMAND: Final = 1
_SUB_COMMAND_GROUP: Final = 2
_OPTION_TYPES: Final = tuple(range(1, 12))
_VALUE_OPTION_TYPES: Final = tuple(range(3, 12))
_STRING_OPTION: Final = 3
_INTEGER_OPTION: Final = 4
_NUMBER_OPTION: Final = 10
_CHOICE_OPTION_TYPES: Final = (3, 4, 10)
# Discord: ^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$; Python's Unicode \w covers letters and
# digits (plus "_"), which is the same set for every name a bot realistically registers.
_CHAT_INPUT_NAME: Final = re.compile(r"^[-_'\w]{1,32}$")


# --- Error building ----------------------------------------------------------------------------

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of an ``_errors`` list: Discord's error code and its human message."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """Return the entry as Discord serialises it."""
        return {"code": self.code, "message": self.message}


def _required() -> FieldError:
    return FieldError("BASE_TYPE_REQUIRED", "This field is required")


def _max_length(limit: int) -> FieldError:
    return FieldError("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_length(low: int, high: int) -> FieldError:
    return FieldError("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _choices(values: Sequence[int | str]) -> FieldError:
    shown = ", ".join(str(value) for value in values)
    return FieldError("BASE_TYPE_CHOICES", f"Value must be one of {{{shown}}}.")


def _union_choices(types: Sequence[int]) -> FieldError:
    return FieldError(
        "UNION_TYPE_CHOICES", f'Value of field "type" must be one of {tuple(types)!r}.'
    )


def _number_max(limit: int) -> FieldError:
    return FieldError("NUMBER_TYPE_MAX", f"int value should be less than or equal to {limit}.")


def _number_min(limit: int) -> FieldError:
    return FieldError("NUMBER_TYPE_MIN", f"int value should be greater than or equal to {limit}.")


def _not_int(value: object) -> FieldError:
    return FieldError("NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')


def _not_snowflake(value: object) -> FieldError:
    return FieldError("NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')


def _bad_type(expected: str) -> FieldError:
    return FieldError("BASE_TYPE_BAD_TYPE", f"Must be {expected}.")


def _not_mapping() -> FieldError:
    return FieldError("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")


def _not_list() -> FieldError:
    return FieldError("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")


def _invalid_url() -> FieldError:
    return FieldError("URL_TYPE_INVALID_URL", "Not a well formed URL.")


def _invalid_scheme(scheme: str, allowed: Sequence[str]) -> FieldError:
    return FieldError(
        "URL_TYPE_INVALID_SCHEME",
        f'Scheme "{scheme}" is not supported. Scheme must be one of {tuple(allowed)!r}.',
    )


class _Report:
    """Collect field errors by path and build Discord's nested ``errors`` object."""

    __slots__ = ("_tree",)

    def __init__(self) -> None:
        self._tree: dict[str, Any] = {}

    def add(self, path: Path, error: FieldError) -> None:
        node = self._tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append(error.as_dict())

    def result(self) -> dict[str, Any] | None:
        return self._tree or None


# --- Field checkers: report a problem, return the usable value or None -------------------------


def _is_int(value: object) -> TypeGuard[int]:
    # JSON true/false are bools, which Python also counts as ints.
    return isinstance(value, int) and not isinstance(value, bool)


def _mapping(report: _Report, path: Path, value: object) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    report.add(path, _not_mapping())
    return None


def _sequence(
    report: _Report,
    path: Path,
    value: object,
    *,
    max_len: int,
    min_len: int | None = None,
) -> Sequence[Any] | None:
    if not isinstance(value, list | tuple):
        report.add(path, _not_list())
        return None
    if min_len is not None and not min_len <= len(value) <= max_len:
        report.add(path, _bad_length(min_len, max_len))
    elif len(value) > max_len:
        report.add(path, _max_length(max_len))
    return value


def _string(
    report: _Report,
    path: Path,
    value: object,
    *,
    max_len: int,
    min_len: int | None = None,
    required: bool = False,
) -> str | None:
    """Check an optional or required string; Discord treats "" like a missing required value."""
    if value is None or (required and value == ""):
        if required:
            report.add(path, _required())
        return None
    if not isinstance(value, str):
        report.add(path, _bad_type("a string"))
        return None
    if min_len is not None and not min_len <= len(value) <= max_len:
        report.add(path, _bad_length(min_len, max_len))
    elif len(value) > max_len:
        report.add(path, _max_length(max_len))
    return value


def _integer(
    report: _Report,
    path: Path,
    value: object,
    *,
    low: int | None = None,
    high: int | None = None,
    required: bool = False,
) -> int | None:
    if value is None:
        if required:
            report.add(path, _required())
        return None
    if not _is_int(value):
        report.add(path, _not_int(value))
        return None
    if low is not None and value < low:
        report.add(path, _number_min(low))
        return None
    if high is not None and value > high:
        report.add(path, _number_max(high))
        return None
    return value


def _choice(
    report: _Report, path: Path, value: object, allowed: Sequence[int], *, required: bool = False
) -> int | None:
    if value is None:
        if required:
            report.add(path, _required())
        return None
    if not _is_int(value):
        report.add(path, _not_int(value))
        return None
    if value not in allowed:
        report.add(path, _choices(allowed))
        return None
    return value


def _boolean(report: _Report, path: Path, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        report.add(path, _bad_type("a boolean"))


def _snowflake(report: _Report, path: Path, value: object, *, required: bool = False) -> None:
    if value is None:
        if required:
            report.add(path, _required())
        return
    if _is_int(value):
        if value >= 0:
            return
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        return
    report.add(path, _not_snowflake(value))


def _snowflakes(report: _Report, path: Path, value: object, *, max_len: int) -> Sequence[Any]:
    if value is None:
        return ()
    items = _sequence(report, path, value, max_len=max_len)
    for index, item in enumerate(items or ()):
        _snowflake(report, (*path, index), item, required=True)
    return items or ()


def _url(
    report: _Report,
    path: Path,
    value: object,
    *,
    schemes: Sequence[str] = _HTTP_SCHEMES,
    attachments: Collection[str] | None = None,
    required: bool = False,
    max_len: int = 2048,
) -> None:
    """Check a URL; ``attachments`` (when given) enables ``attachment://<one of them>``."""
    text = _string(report, path, value, max_len=max_len, required=required)
    if text is None:
        return
    if attachments is not None and text.startswith(_ATTACHMENT_PREFIX):
        filename = text[len(_ATTACHMENT_PREFIX) :]
        if not filename:
            report.add(path, _invalid_url())
        elif filename not in attachments:
            # The sandbox's own rule: Discord would show the embed without its image, which
            # hides exactly the bug (graph not uploaded) this check exists to catch.
            report.add(
                path,
                FieldError(
                    "ATTACHMENT_NOT_FOUND",
                    f'Attachment "{filename}" is not among the files of this message.',
                ),
            )
        return
    scheme, separator, _rest = text.partition(":")
    if not separator or not scheme:
        report.add(path, _invalid_url())
        return
    allowed = (*schemes, "attachment") if attachments is not None else tuple(schemes)
    if scheme.lower() not in schemes:
        report.add(path, _invalid_scheme(scheme, allowed))
        return
    if scheme.lower() in _HTTP_SCHEMES and not urlsplit(text).netloc:
        report.add(path, _invalid_url())


def _iso8601(report: _Report, path: Path, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        report.add(path, _bad_type("a string"))
        return
    try:
        datetime.fromisoformat(value)
    except ValueError:
        report.add(
            path, FieldError("DATE_TIME_TYPE_PARSE", f"Could not parse {value}. Should be ISO8601.")
        )


# --- Messages ------------------------------------------------------------------------------------


def validate_message_payload(
    payload: Mapping[str, Any], *, attachment_filenames: Collection[str]
) -> dict[str, Any] | None:
    """Check a create/edit message body; return Discord's ``errors`` object or None when valid.

    ``attachment_filenames`` are the names of the files the message will carry (uploaded with
    this request, plus any kept from before on an edit); ``attachment://`` references must name
    one of them. Emptiness (50006) is a separate answer: see ``is_empty_message``.
    """
    report = _Report()
    _message(report, (), payload, frozenset(attachment_filenames))
    return report.result()


def is_empty_message(payload: Mapping[str, Any], attachment_filenames: Collection[str]) -> bool:
    """Tell whether a new message has nothing to show, which Discord answers with 50006."""
    content = payload.get("content")
    if isinstance(content, str) and content.strip():
        return False
    if attachment_filenames:
        return False
    return not any(payload.get(key) for key in ("embeds", "components", "sticker_ids", "poll"))


def check_message(
    payload: Mapping[str, Any], *, attachment_filenames: Collection[str], editing: bool = False
) -> Rejection | None:
    """Return the answer Discord gives to an invalid message body, or None when it is accepted.

    On an edit (``editing=True``) emptiness is not checked here: only the merged message can be
    empty, and the caller knows it.
    """
    errors = validate_message_payload(payload, attachment_filenames=attachment_filenames)
    if errors is not None:
        return _form_body_rejection(errors)
    if not editing and is_empty_message(payload, attachment_filenames):
        empty = known_error(CANNOT_SEND_EMPTY_MESSAGE)
        return Rejection(empty.status, empty.body())
    return None


def _message(report: _Report, path: Path, value: object, attachments: frozenset[str]) -> None:
    payload = _mapping(report, path, value)
    if payload is None:
        return
    _string(report, (*path, "content"), payload.get("content"), max_len=MAX_CONTENT_LENGTH)
    _boolean(report, (*path, "tts"), payload.get("tts"))
    _nonce(report, (*path, "nonce"), payload.get("nonce"))
    flags = _integer(report, (*path, "flags"), payload.get("flags"), low=0)
    v2 = flags is not None and bool(flags & FLAG_IS_COMPONENTS_V2)
    if payload.get("embeds") is not None:
        _embeds(report, (*path, "embeds"), payload["embeds"], attachments)
    if payload.get("allowed_mentions") is not None:
        _allowed_mentions(report, (*path, "allowed_mentions"), payload["allowed_mentions"])
    if payload.get("message_reference") is not None:
        _mapping(report, (*path, "message_reference"), payload["message_reference"])
    _snowflakes(report, (*path, "sticker_ids"), payload.get("sticker_ids"), max_len=MAX_STICKERS)
    if payload.get("attachments") is not None:
        _attachments(report, (*path, "attachments"), payload["attachments"])
    if payload.get("poll") is not None:
        _mapping(report, (*path, "poll"), payload["poll"])
    if payload.get("components") is not None:
        context = _ComponentContext(report, attachments, surface=_MESSAGE, v2=v2)
        _message_components(context, (*path, "components"), payload["components"])
    if v2:
        for key in ("content", "embeds", "sticker_ids", "poll"):
            if payload.get(key):
                report.add(
                    (*path, key),
                    FieldError(
                        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                        f"The '{key}' field cannot be used when using "
                        "MessageFlags.IS_COMPONENTS_V2",
                    ),
                )


def _nonce(report: _Report, path: Path, value: object) -> None:
    if value is None or _is_int(value):
        return
    if not isinstance(value, str):
        report.add(
            path, FieldError("NONCE_TYPE_INVALID_TYPE", "This field must be a string or integer.")
        )
    elif len(value) > MAX_NONCE_LENGTH:
        report.add(
            path,
            FieldError(
                "NONCE_TYPE_TOO_LONG", f"Must be {MAX_NONCE_LENGTH} or fewer characters long."
            ),
        )


def _allowed_mentions(report: _Report, path: Path, value: object) -> None:
    mentions = _mapping(report, path, value)
    if mentions is None:
        return
    parse: list[str] = []
    if mentions.get("parse") is not None:
        items = _sequence(report, (*path, "parse"), mentions["parse"], max_len=len(_MENTION_PARSE))
        for index, item in enumerate(items or ()):
            if item in _MENTION_PARSE:
                parse.append(item)
            else:
                report.add((*path, "parse", index), _choices(_MENTION_PARSE))
    for kind in ("users", "roles"):
        ids = _snowflakes(report, (*path, kind), mentions.get(kind), max_len=MAX_MENTION_IDS)
        if ids and kind in parse:
            report.add(
                path,
                FieldError(
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                ),
            )
    _boolean(report, (*path, "replied_user"), mentions.get("replied_user"))


def _attachments(report: _Report, path: Path, value: object) -> None:
    items = _sequence(report, path, value, max_len=MAX_ATTACHMENTS)
    for index, item in enumerate(items or ()):
        entry = _mapping(report, (*path, index), item)
        if entry is None:
            continue
        _snowflake(report, (*path, index, "id"), entry.get("id"), required=True)
        _string(report, (*path, index, "filename"), entry.get("filename"), max_len=1024)
        _string(
            report,
            (*path, index, "description"),
            entry.get("description"),
            max_len=MAX_ATTACHMENT_DESCRIPTION,
        )


# --- Embeds --------------------------------------------------------------------------------------


def _embeds(report: _Report, path: Path, value: object, attachments: frozenset[str]) -> None:
    embeds = _sequence(report, path, value, max_len=MAX_EMBEDS)
    total = sum(
        _embed(report, (*path, index), embed, attachments)
        for index, embed in enumerate(embeds or ())
    )
    if total > MAX_EMBED_TOTAL:
        report.add(
            path,
            FieldError(
                "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
            ),
        )


def _embed(report: _Report, path: Path, value: object, attachments: frozenset[str]) -> int:
    """Check one embed and return how many characters it adds to the message's 6000 budget."""
    embed = _mapping(report, path, value)
    if embed is None:
        return 0
    counted: list[str | None] = [
        _string(report, (*path, "title"), embed.get("title"), max_len=MAX_EMBED_TITLE),
        _string(
            report, (*path, "description"), embed.get("description"), max_len=MAX_EMBED_DESCRIPTION
        ),
    ]
    _string(report, (*path, "type"), embed.get("type"), max_len=32)
    _url(report, (*path, "url"), embed.get("url"))
    _iso8601(report, (*path, "timestamp"), embed.get("timestamp"))
    _integer(report, (*path, "color"), embed.get("color"), low=0, high=MAX_COLOR)
    for key in ("image", "thumbnail"):
        if embed.get(key) is not None:
            media = _mapping(report, (*path, key), embed[key])
            if media is not None:
                _url(
                    report,
                    (*path, key, "url"),
                    media.get("url"),
                    attachments=attachments,
                    required=True,
                )
    if embed.get("footer") is not None:
        footer = _mapping(report, (*path, "footer"), embed["footer"])
        if footer is not None:
            counted.append(
                _string(
                    report,
                    (*path, "footer", "text"),
                    footer.get("text"),
                    max_len=MAX_EMBED_FOOTER_TEXT,
                    required=True,
                )
            )
            _url(
                report,
                (*path, "footer", "icon_url"),
                footer.get("icon_url"),
                attachments=attachments,
            )
    if embed.get("author") is not None:
        author = _mapping(report, (*path, "author"), embed["author"])
        if author is not None:
            counted.append(
                _string(
                    report,
                    (*path, "author", "name"),
                    author.get("name"),
                    max_len=MAX_EMBED_AUTHOR_NAME,
                    required=True,
                )
            )
            _url(report, (*path, "author", "url"), author.get("url"))
            _url(
                report,
                (*path, "author", "icon_url"),
                author.get("icon_url"),
                attachments=attachments,
            )
    if embed.get("fields") is not None:
        fields = _sequence(report, (*path, "fields"), embed["fields"], max_len=MAX_EMBED_FIELDS)
        for index, item in enumerate(fields or ()):
            counted.extend(_embed_field(report, (*path, "fields", index), item))
    return sum(len(text) for text in counted if text is not None)


def _embed_field(report: _Report, path: Path, value: object) -> tuple[str | None, str | None]:
    embed_field = _mapping(report, path, value)
    if embed_field is None:
        return None, None
    _boolean(report, (*path, "inline"), embed_field.get("inline"))
    name = _string(
        report,
        (*path, "name"),
        embed_field.get("name"),
        max_len=MAX_EMBED_FIELD_NAME,
        required=True,
    )
    text = _string(
        report,
        (*path, "value"),
        embed_field.get("value"),
        max_len=MAX_EMBED_FIELD_VALUE,
        required=True,
    )
    return name, text


# --- Components ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _ComponentContext:
    """State shared while walking one message's or modal's component tree."""

    report: _Report
    attachments: frozenset[str]
    surface: str
    v2: bool = False
    in_label: bool = False
    custom_ids: set[str] = field(default_factory=set)
    count: int = 0
    text_length: int = 0


def _message_components(context: _ComponentContext, path: Path, value: object) -> None:
    allowed: Sequence[int]
    if context.v2:
        # Components v2 counts every component, nested ones included, against one budget.
        items = _sequence(context.report, path, value, max_len=MAX_V2_COMPONENTS)
        allowed = _V2_TOP_LEVEL
    else:
        # Discord limits a classic message to 5 action rows.
        items = _sequence(context.report, path, value, max_len=MAX_ACTION_ROWS)
        allowed = _V1_TOP_LEVEL
    for index, item in enumerate(items or ()):
        _component(context, (*path, index), item, allowed)
    too_many_top_level = items is not None and len(items) > MAX_V2_COMPONENTS
    if context.v2 and context.count > MAX_V2_COMPONENTS and not too_many_top_level:
        context.report.add(path, _max_length(MAX_V2_COMPONENTS))


def _component(
    context: _ComponentContext, path: Path, value: object, allowed: Sequence[int]
) -> int | None:
    """Check one component of any kind; return its type when it is usable."""
    report = context.report
    component = _mapping(report, path, value)
    if component is None:
        return None
    kind = component.get("type")
    if kind is None:
        report.add((*path, "type"), _required())
        return None
    if not _is_int(kind):
        report.add((*path, "type"), _not_int(kind))
        return None
    if kind not in allowed:
        report.add(path, _union_choices(allowed))
        return None
    context.count += 1
    _integer(report, (*path, "id"), component.get("id"), low=0, high=2**31 - 1)
    if kind == ACTION_ROW:
        _action_row(context, path, component)
    elif kind == BUTTON:
        _button(context, path, component)
    elif kind in SELECT_TYPES:
        _select(context, path, component)
    elif kind == TEXT_INPUT:
        _text_input(context, path, component)
    elif kind == SECTION:
        _section(context, path, component)
    elif kind == TEXT_DISPLAY:
        _text_display(context, path, component)
    elif kind == THUMBNAIL:
        _unfurled_media(context, (*path, "media"), component.get("media"))
        _string(report, (*path, "description"), component.get("description"), max_len=1024)
        _boolean(report, (*path, "spoiler"), component.get("spoiler"))
    elif kind == MEDIA_GALLERY:
        _media_gallery(context, path, component)
    elif kind == FILE:
        _file_component(context, path, component)
    elif kind == SEPARATOR:
        _boolean(report, (*path, "divider"), component.get("divider"))
        _choice(report, (*path, "spacing"), component.get("spacing"), _SEPARATOR_SPACINGS)
    elif kind == CONTAINER:
        _container(context, path, component)
    elif kind == LABEL:
        _label(context, path, component)
    elif kind in MODAL_ONLY_INPUTS:
        _custom_id(context, (*path, "custom_id"), component.get("custom_id"))
    return int(kind)


def _custom_id(
    context: _ComponentContext, path: Path, value: object, *, missing: FieldError | None = None
) -> None:
    if missing is not None and (value is None or value == ""):
        context.report.add(path, missing)
        return
    custom_id = _string(
        context.report, path, value, min_len=1, max_len=MAX_CUSTOM_ID, required=True
    )
    if custom_id is None:
        return
    if custom_id in context.custom_ids:
        context.report.add(
            path,
            FieldError(
                "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            ),
        )
    context.custom_ids.add(custom_id)


def _action_row(context: _ComponentContext, path: Path, row: Mapping[str, Any]) -> None:
    in_modal = context.surface == _MODAL
    children_path = (*path, "components")
    children = row.get("components")
    if children is None:
        context.report.add(children_path, _required())
        return
    items = _sequence(context.report, children_path, children, min_len=1, max_len=MAX_ROW_WIDTH)
    allowed = (TEXT_INPUT,) if in_modal else _MESSAGE_ROW_CHILDREN
    width = 0
    for index, item in enumerate(items or ()):
        kind = _component(context, (*children_path, index), item, allowed)
        if kind is None:
            continue
        # A button takes one of the row's five slots; a select or text input takes the whole row.
        width += 1 if kind == BUTTON else MAX_ROW_WIDTH
        if width > MAX_ROW_WIDTH:
            context.report.add(
                (*children_path, index),
                FieldError(
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                ),
            )


def _emoji(report: _Report, path: Path, value: object) -> bool:
    """Check a partial emoji; return whether one is present."""
    if value is None:
        return False
    emoji = _mapping(report, path, value)
    if emoji is None:
        return False
    emoji_id, name = emoji.get("id"), emoji.get("name")
    if emoji_id is None and not name:
        report.add(path, FieldError("BUTTON_COMPONENT_INVALID_EMOJI", "Invalid emoji"))
        return False
    _snowflake(report, (*path, "id"), emoji_id)
    _string(report, (*path, "name"), name, max_len=32 if emoji_id is not None else 64)
    _boolean(report, (*path, "animated"), emoji.get("animated"))
    return True


def _button(context: _ComponentContext, path: Path, button: Mapping[str, Any]) -> None:
    report = context.report
    style = _choice(report, (*path, "style"), button.get("style"), _BUTTON_STYLES, required=True)
    label = _string(report, (*path, "label"), button.get("label"), max_len=MAX_BUTTON_LABEL)
    has_emoji = _emoji(report, (*path, "emoji"), button.get("emoji"))
    _boolean(report, (*path, "disabled"), button.get("disabled"))
    if style is None:
        return
    has_custom_id = button.get("custom_id") is not None
    has_url = button.get("url") is not None
    if style == _PREMIUM_STYLE:
        _snowflake(report, (*path, "sku_id"), button.get("sku_id"), required=True)
        return
    if not label and not has_emoji:
        # The sandbox's own code: Discord refuses a button that would render blank.
        report.add(
            (*path, "label"),
            FieldError("BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A label or emoji is required"),
        )
    if has_custom_id and has_url:
        report.add(
            path,
            FieldError(
                "BUTTON_COMPONENT_CUSTOM_ID_URL_MUTUALLY_EXCLUSIVE",
                "A custom id and url cannot both be specified",
            ),
        )
        return
    if style == _LINK_STYLE:
        if not has_url:
            report.add(
                (*path, "url"), FieldError("BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
            )
        else:
            _url(
                report,
                (*path, "url"),
                button.get("url"),
                schemes=_LINK_BUTTON_SCHEMES,
                max_len=MAX_LINK_URL,
            )
        return
    if has_url:
        report.add(
            (*path, "url"),
            FieldError("BUTTON_COMPONENT_INVALID_URL", "Only link buttons can have a url"),
        )
    _custom_id(
        context,
        (*path, "custom_id"),
        button.get("custom_id"),
        missing=FieldError("BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required"),
    )


def _select(context: _ComponentContext, path: Path, select: Mapping[str, Any]) -> None:
    report = context.report
    _custom_id(context, (*path, "custom_id"), select.get("custom_id"))
    _string(
        report, (*path, "placeholder"), select.get("placeholder"), max_len=MAX_SELECT_PLACEHOLDER
    )
    low = _integer(
        report, (*path, "min_values"), select.get("min_values"), low=0, high=MAX_SELECT_VALUES
    )
    high = _integer(
        report, (*path, "max_values"), select.get("max_values"), low=1, high=MAX_SELECT_VALUES
    )
    _boolean(report, (*path, "disabled"), select.get("disabled"))
    _boolean(report, (*path, "required"), select.get("required"))
    if low is not None and high is not None and low > high:
        report.add((*path, "min_values"), _number_max(high))
    max_values = high if high is not None else 1
    if select.get("type") == STRING_SELECT:
        _select_options(context, (*path, "options"), select.get("options"), max_values)
        return
    defaults = select.get("default_values")
    if defaults is not None:
        items = _sequence(report, (*path, "default_values"), defaults, max_len=MAX_SELECT_VALUES)
        for index, item in enumerate(items or ()):
            entry = _mapping(report, (*path, "default_values", index), item)
            if entry is not None:
                _snowflake(
                    report, (*path, "default_values", index, "id"), entry.get("id"), required=True
                )
        if items is not None and len(items) > max_values:
            report.add((*path, "default_values"), _too_many_defaults())
    channel_types = select.get("channel_types")
    if channel_types is not None:
        items = _sequence(report, (*path, "channel_types"), channel_types, max_len=64)
        for index, item in enumerate(items or ()):
            _integer(report, (*path, "channel_types", index), item, low=0, required=True)


def _too_many_defaults() -> FieldError:
    return FieldError(
        "SELECT_COMPONENT_TOO_MANY_DEFAULT_VALUES",
        "The specified number of default values exceeds the specified maximum values",
    )


def _select_options(context: _ComponentContext, path: Path, value: object, max_values: int) -> None:
    report = context.report
    if value is None:
        report.add(path, _required())
        return
    options = _sequence(report, path, value, min_len=1, max_len=MAX_SELECT_OPTIONS)
    seen: set[str] = set()
    defaults = 0
    for index, item in enumerate(options or ()):
        option = _mapping(report, (*path, index), item)
        if option is None:
            continue
        _string(
            report,
            (*path, index, "label"),
            option.get("label"),
            min_len=1,
            max_len=MAX_SELECT_OPTION_TEXT,
            required=True,
        )
        option_value = _string(
            report,
            (*path, index, "value"),
            option.get("value"),
            min_len=1,
            max_len=MAX_SELECT_OPTION_TEXT,
            required=True,
        )
        _string(
            report,
            (*path, index, "description"),
            option.get("description"),
            max_len=MAX_SELECT_OPTION_TEXT,
        )
        _emoji(report, (*path, index, "emoji"), option.get("emoji"))
        _boolean(report, (*path, index, "default"), option.get("default"))
        if option.get("default") is True:
            defaults += 1
        if option_value is not None:
            if option_value in seen:
                report.add(
                    (*path, index, "value"),
                    FieldError(
                        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                        "The specified option value is already used",
                    ),
                )
            seen.add(option_value)
    if defaults > max_values:
        report.add(path, _too_many_defaults())


def _text_input(context: _ComponentContext, path: Path, text_input: Mapping[str, Any]) -> None:
    report = context.report
    _custom_id(context, (*path, "custom_id"), text_input.get("custom_id"))
    _choice(report, (*path, "style"), text_input.get("style"), _TEXT_INPUT_STYLES, required=True)
    # Inside a Label (type 18) the label's text replaces the input's own, so it is optional.
    _string(
        report,
        (*path, "label"),
        text_input.get("label"),
        min_len=1,
        max_len=MAX_TEXT_INPUT_LABEL,
        required=not context.in_label,
    )
    low = _integer(
        report,
        (*path, "min_length"),
        text_input.get("min_length"),
        low=0,
        high=MAX_TEXT_INPUT_LENGTH,
    )
    high = _integer(
        report,
        (*path, "max_length"),
        text_input.get("max_length"),
        low=1,
        high=MAX_TEXT_INPUT_LENGTH,
    )
    if low is not None and high is not None and low > high:
        report.add((*path, "min_length"), _number_max(high))
    _boolean(report, (*path, "required"), text_input.get("required"))
    _string(report, (*path, "value"), text_input.get("value"), max_len=MAX_TEXT_INPUT_LENGTH)
    _string(
        report,
        (*path, "placeholder"),
        text_input.get("placeholder"),
        max_len=MAX_TEXT_INPUT_PLACEHOLDER,
    )


def _label(context: _ComponentContext, path: Path, label: Mapping[str, Any]) -> None:
    report = context.report
    _string(
        report,
        (*path, "label"),
        label.get("label"),
        min_len=1,
        max_len=MAX_TEXT_INPUT_LABEL,
        required=True,
    )
    _string(report, (*path, "description"), label.get("description"), max_len=MAX_LABEL_DESCRIPTION)
    child = label.get("component")
    if child is None:
        report.add((*path, "component"), _required())
        return
    context.in_label = True
    try:
        _component(context, (*path, "component"), child, _LABEL_CHILDREN)
    finally:
        context.in_label = False


def _text_display(context: _ComponentContext, path: Path, display: Mapping[str, Any]) -> None:
    content = _string(
        context.report,
        (*path, "content"),
        display.get("content"),
        max_len=MAX_V2_TEXT,
        required=True,
    )
    if content is None:
        return
    before = context.text_length
    context.text_length += len(content)
    # Discord caps the text of all text displays of one message together.
    if before <= MAX_V2_TEXT < context.text_length:
        context.report.add((*path, "content"), _max_length(MAX_V2_TEXT))


def _section(context: _ComponentContext, path: Path, section: Mapping[str, Any]) -> None:
    report = context.report
    texts = section.get("components")
    if texts is None:
        report.add((*path, "components"), _required())
    else:
        items = _sequence(
            report, (*path, "components"), texts, min_len=1, max_len=MAX_SECTION_TEXTS
        )
        for index, item in enumerate(items or ()):
            _component(context, (*path, "components", index), item, (TEXT_DISPLAY,))
    accessory = section.get("accessory")
    if accessory is None:
        report.add((*path, "accessory"), _required())
    else:
        _component(context, (*path, "accessory"), accessory, (BUTTON, THUMBNAIL))


def _unfurled_media(context: _ComponentContext, path: Path, value: object) -> None:
    if value is None:
        context.report.add(path, _required())
        return
    media = _mapping(context.report, path, value)
    if media is not None:
        _url(
            context.report,
            (*path, "url"),
            media.get("url"),
            attachments=context.attachments,
            required=True,
        )


def _media_gallery(context: _ComponentContext, path: Path, gallery: Mapping[str, Any]) -> None:
    report = context.report
    if gallery.get("items") is None:
        report.add((*path, "items"), _required())
        return
    items = _sequence(
        report, (*path, "items"), gallery["items"], min_len=1, max_len=MAX_GALLERY_ITEMS
    )
    for index, item in enumerate(items or ()):
        entry = _mapping(report, (*path, "items", index), item)
        if entry is None:
            continue
        _unfurled_media(context, (*path, "items", index, "media"), entry.get("media"))
        _string(
            report,
            (*path, "items", index, "description"),
            entry.get("description"),
            max_len=MAX_MEDIA_DESCRIPTION,
        )
        _boolean(report, (*path, "items", index, "spoiler"), entry.get("spoiler"))


def _file_component(context: _ComponentContext, path: Path, component: Mapping[str, Any]) -> None:
    report = context.report
    media = component.get("file")
    if media is None:
        report.add((*path, "file"), _required())
        return
    entry = _mapping(report, (*path, "file"), media)
    if entry is None:
        return
    url = entry.get("url")
    # A File component can only show an uploaded attachment, never a web URL.
    if isinstance(url, str) and not url.startswith(_ATTACHMENT_PREFIX):
        report.add((*path, "file", "url"), _invalid_scheme(url.partition(":")[0], ("attachment",)))
        return
    _url(
        report,
        (*path, "file", "url"),
        url,
        schemes=(),
        attachments=context.attachments,
        required=True,
    )
    _boolean(report, (*path, "spoiler"), component.get("spoiler"))


def _container(context: _ComponentContext, path: Path, container: Mapping[str, Any]) -> None:
    report = context.report
    _integer(report, (*path, "accent_color"), container.get("accent_color"), low=0, high=MAX_COLOR)
    _boolean(report, (*path, "spoiler"), container.get("spoiler"))
    children = container.get("components")
    if children is None:
        report.add((*path, "components"), _required())
        return
    items = _sequence(report, (*path, "components"), children, min_len=1, max_len=MAX_V2_COMPONENTS)
    for index, item in enumerate(items or ()):
        _component(context, (*path, "components", index), item, _CONTAINER_CHILDREN)


# --- Interaction callbacks -----------------------------------------------------------------------


def validate_interaction_callback(
    payload: Mapping[str, Any], *, attachment_filenames: Collection[str] = ()
) -> dict[str, Any] | None:
    """Check ``POST /interactions/{id}/{token}/callback``; return ``errors`` or None when valid."""
    report = _Report()
    body = _mapping(report, (), payload)
    if body is None:
        return report.result()
    kind = _choice(report, ("type",), body.get("type"), CALLBACK_TYPES, required=True)
    data = body.get("data")
    if kind in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_UPDATE_MESSAGE):
        if data is not None:
            _message(report, ("data",), data, frozenset(attachment_filenames))
    elif kind in (CALLBACK_DEFERRED_CHANNEL_MESSAGE, CALLBACK_DEFERRED_UPDATE_MESSAGE):
        if data is not None:
            deferred = _mapping(report, ("data",), data)
            if deferred is not None:
                _integer(report, ("data", "flags"), deferred.get("flags"), low=0)
    elif kind == CALLBACK_AUTOCOMPLETE_RESULT:
        _autocomplete_result(report, ("data",), data)
    elif kind == CALLBACK_MODAL:
        _modal(report, ("data",), data)
    return report.result()


def check_interaction_callback(
    payload: Mapping[str, Any], *, attachment_filenames: Collection[str] = ()
) -> Rejection | None:
    """Return Discord's answer to an invalid interaction callback, or None when accepted."""
    errors = validate_interaction_callback(payload, attachment_filenames=attachment_filenames)
    if errors is not None:
        return _form_body_rejection(errors)
    data = payload.get("data")
    if payload.get("type") == CALLBACK_CHANNEL_MESSAGE and is_empty_message(
        data if isinstance(data, Mapping) else {}, attachment_filenames
    ):
        empty = known_error(CANNOT_SEND_EMPTY_MESSAGE)
        return Rejection(empty.status, empty.body())
    return None


def _autocomplete_result(report: _Report, path: Path, value: object) -> None:
    if value is None:
        report.add(path, _required())
        return
    data = _mapping(report, path, value)
    if data is None:
        return
    if data.get("choices") is None:
        report.add((*path, "choices"), _required())
        return
    choices = _sequence(
        report, (*path, "choices"), data["choices"], max_len=MAX_AUTOCOMPLETE_CHOICES
    )
    for index, item in enumerate(choices or ()):
        _command_choice(report, (*path, "choices", index), item, option_type=None)


def _command_choice(report: _Report, path: Path, value: object, *, option_type: int | None) -> int:
    """Check one ``{name, value}`` choice; return its size toward a command's character budget."""
    choice = _mapping(report, path, value)
    if choice is None:
        return 0
    name = _string(
        report,
        (*path, "name"),
        choice.get("name"),
        min_len=1,
        max_len=MAX_CHOICE_NAME,
        required=True,
    )
    raw = choice.get("value")
    size = len(name or "")
    wants_string = option_type in (None, _STRING_OPTION)
    wants_number = option_type in (None, _INTEGER_OPTION, _NUMBER_OPTION)
    if raw is None:
        report.add((*path, "value"), _required())
    elif isinstance(raw, str) and wants_string:
        _string(report, (*path, "value"), raw, max_len=MAX_CHOICE_STRING_VALUE)
        size += len(raw)
    elif option_type == _INTEGER_OPTION and not _is_int(raw):
        report.add((*path, "value"), _not_int(raw))
    elif (_is_int(raw) or isinstance(raw, float)) and wants_number:
        size += len(str(raw))
    else:
        report.add((*path, "value"), _bad_type("a string or a number"))
    return size


def _modal(report: _Report, path: Path, value: object) -> None:
    if value is None:
        report.add(path, _required())
        return
    modal = _mapping(report, path, value)
    if modal is None:
        return
    _string(
        report,
        (*path, "custom_id"),
        modal.get("custom_id"),
        min_len=1,
        max_len=MAX_CUSTOM_ID,
        required=True,
    )
    _string(
        report,
        (*path, "title"),
        modal.get("title"),
        min_len=1,
        max_len=MAX_MODAL_TITLE,
        required=True,
    )
    if modal.get("components") is None:
        report.add((*path, "components"), _required())
        return
    items = _sequence(
        report, (*path, "components"), modal["components"], min_len=1, max_len=MAX_MODAL_COMPONENTS
    )
    context = _ComponentContext(report, frozenset(), surface=_MODAL)
    for index, item in enumerate(items or ()):
        _component(context, (*path, "components", index), item, _MODAL_TOP_LEVEL)


# --- Application commands ------------------------------------------------------------------------


def validate_application_commands(commands: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Check a bulk overwrite of application commands; return ``errors`` or None when valid."""
    report = _Report()
    if not isinstance(commands, list | tuple):
        report.add((), _not_list())
        return report.result()
    seen: set[tuple[int, str]] = set()
    per_type: dict[int, int] = {}
    for index, item in enumerate(commands):
        identity = _command(report, (index,), item)
        if identity is None:
            continue
        per_type[identity[0]] = per_type.get(identity[0], 0) + 1
        if identity in seen:
            report.add(
                (index,),
                FieldError(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                ),
            )
        seen.add(identity)
    for kind, limit in MAX_COMMANDS_PER_TYPE:
        if per_type.get(kind, 0) > limit:
            # The sandbox's own code; real Discord answers this with JSON error 30032.
            report.add(
                (),
                FieldError(
                    "APPLICATION_COMMANDS_TOO_MANY",
                    f"Maximum number of application commands reached ({limit})",
                ),
            )
    return report.result()


def check_application_commands(commands: Sequence[Mapping[str, Any]]) -> Rejection | None:
    """Return Discord's answer to an invalid command list, or None when accepted."""
    errors = validate_application_commands(commands)
    return None if errors is None else _form_body_rejection(errors)


def _command(report: _Report, path: Path, value: object) -> tuple[int, str] | None:
    """Check one command; return its (type, name) identity for the duplicate check."""
    command = _mapping(report, path, value)
    if command is None:
        return None
    kind = command.get("type", _CHAT_INPUT)
    kind = _choice(report, (*path, "type"), kind, _COMMAND_TYPES)
    chat_input = kind in (None, _CHAT_INPUT)
    name = _command_name(report, (*path, "name"), command.get("name"), chat_input=chat_input)
    size = len(name or "")
    if chat_input:
        description = _string(
            report,
            (*path, "description"),
            command.get("description"),
            min_len=1,
            max_len=MAX_COMMAND_DESCRIPTION,
            required=True,
        )
        size += len(description or "")
        if command.get("options") is not None:
            size += _options(report, (*path, "options"), command["options"], parent=None)
    _boolean(report, (*path, "nsfw"), command.get("nsfw"))
    _boolean(report, (*path, "dm_permission"), command.get("dm_permission"))
    if size > MAX_COMMAND_SIZE:
        report.add(
            path,
            FieldError(
                "APPLICATION_COMMAND_TOO_LARGE",
                f"Command exceeds maximum size ({MAX_COMMAND_SIZE})",
            ),
        )
    if name is None or kind is None:
        return None
    return kind, name


def _command_name(report: _Report, path: Path, value: object, *, chat_input: bool) -> str | None:
    name = _string(report, path, value, min_len=1, max_len=MAX_COMMAND_NAME, required=True)
    if name is None or not 1 <= len(name) <= MAX_COMMAND_NAME:
        return None
    # Chat-input names must use the lower-case form of any letter that has one.
    if chat_input and (not _CHAT_INPUT_NAME.match(name) or name != name.lower()):
        report.add(path, FieldError("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
        return None
    return name


def _options(report: _Report, path: Path, value: object, *, parent: int | None) -> int:
    """Check an options array; return its size toward the command's character budget."""
    options = _sequence(report, path, value, max_len=MAX_COMMAND_OPTIONS)
    if options is None:
        return 0
    size = 0
    names: set[str] = set()
    optional_seen = False
    kinds = [item.get("type") if isinstance(item, Mapping) else None for item in options]
    has_subcommands = any(kind in (_SUB_COMMAND, _SUB_COMMAND_GROUP) for kind in kinds)
    if parent == _SUB_COMMAND_GROUP:
        allowed: tuple[int, ...] = (_SUB_COMMAND,)
    elif parent == _SUB_COMMAND or not has_subcommands:
        allowed = _VALUE_OPTION_TYPES
    else:
        # A command's options are either all subcommands (and groups) or all plain parameters.
        allowed = (_SUB_COMMAND, _SUB_COMMAND_GROUP)
    for index, item in enumerate(options):
        option_path = (*path, index)
        option = _mapping(report, option_path, item)
        if option is None:
            continue
        kind = _choice(
            report, (*option_path, "type"), option.get("type"), _OPTION_TYPES, required=True
        )
        if kind is not None and kind not in allowed:
            report.add(option_path, _union_choices(allowed))
            kind = None
        name = _command_name(report, (*option_path, "name"), option.get("name"), chat_input=True)
        if name is not None:
            if name in names:
                # The sandbox's own code for Discord's documented "names must be unique" rule.
                report.add(
                    (*option_path, "name"),
                    FieldError(
                        "APPLICATION_COMMAND_OPTION_NAME_DUPLICATED",
                        "Option names must be unique within their array",
                    ),
                )
            names.add(name)
        description = _string(
            report,
            (*option_path, "description"),
            option.get("description"),
            min_len=1,
            max_len=MAX_COMMAND_DESCRIPTION,
            required=True,
        )
        size += len(name or "") + len(description or "")
        if kind in (_SUB_COMMAND, _SUB_COMMAND_GROUP):
            if option.get("options") is not None:
                size += _options(report, (*option_path, "options"), option["options"], parent=kind)
            continue
        _boolean(report, (*option_path, "required"), option.get("required"))
        if option.get("required") is True:
            if optional_seen:
                report.add(
                    option_path,
                    FieldError(
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    ),
                )
        else:
            optional_seen = True
        size += _option_details(report, option_path, option, kind)
    return size


def _option_details(
    report: _Report, path: Path, option: Mapping[str, Any], kind: int | None
) -> int:
    """Check choices, autocomplete and length bounds of one parameter option."""
    size = 0
    choices = option.get("choices")
    _boolean(report, (*path, "autocomplete"), option.get("autocomplete"))
    if choices is not None:
        if kind is not None and kind not in _CHOICE_OPTION_TYPES:
            # The sandbox's own code for Discord's documented rule.
            report.add(
                (*path, "choices"),
                FieldError(
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Choices cannot be configured for this type of option",
                ),
            )
        items = _sequence(report, (*path, "choices"), choices, max_len=MAX_COMMAND_CHOICES)
        for index, item in enumerate(items or ()):
            size += _command_choice(report, (*path, "choices", index), item, option_type=kind)
        if items and option.get("autocomplete") is True:
            # The sandbox's own code for Discord's documented rule.
            report.add(
                (*path, "autocomplete"),
                FieldError(
                    "APPLICATION_COMMAND_AUTOCOMPLETE_WITH_CHOICES",
                    "Autocomplete cannot be set together with choices",
                ),
            )
    if option.get("autocomplete") is True and kind is not None and kind not in _CHOICE_OPTION_TYPES:
        report.add(
            (*path, "autocomplete"),
            FieldError(
                "APPLICATION_COMMAND_REQUIRED_INVALID",
                "Autocomplete cannot be configured for this type of option",
            ),
        )
    if kind == _STRING_OPTION:
        _integer(
            report,
            (*path, "min_length"),
            option.get("min_length"),
            low=0,
            high=MAX_STRING_OPTION_LENGTH,
        )
        _integer(
            report,
            (*path, "max_length"),
            option.get("max_length"),
            low=1,
            high=MAX_STRING_OPTION_LENGTH,
        )
    return size
