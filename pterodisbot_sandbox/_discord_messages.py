"""Message create and edit as Discord does them: attachments kept or dropped by id."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pterodisbot_sandbox import discord_rules as rules
from pterodisbot_sandbox._discord_http import ApiError, Body, Upload, invalid_form, known
from pterodisbot_sandbox._discord_state import (
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    MESSAGE_FLAG_SUPPRESS_EMBEDS,
    Attachment,
    Channel,
    Json,
    Message,
    State,
    guess_content_type,
)

# A role mention in a message's content: <@&id>.
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
# Only these flags may be set by a bot on a message; others are ignored as on Discord.
_SETTABLE_FLAGS = MESSAGE_FLAG_SUPPRESS_EMBEDS | MESSAGE_FLAG_EPHEMERAL | (1 << 12) | (1 << 15)


def validate_message(payload: Mapping[str, Any], filenames: Sequence[str]) -> None:
    """Raise 50035 with Discord's nested errors if the payload breaks a message rule."""
    errors = rules.validate_message_payload(payload, attachment_filenames=filenames)
    if errors:
        raise invalid_form(errors)


def _new_attachments(
    state: State, channel: Channel, body: Body, entries: Sequence[Any] | None, *, editing: bool
) -> tuple[list[Attachment], list[int]]:
    """Return (new attachments from uploads, ids of existing attachments to keep)."""
    by_index = {u.index: u for u in body.uploads}
    keep: list[int] = []
    made: list[Attachment] = []
    used: set[int] = set()
    if entries is not None:
        for pos, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or "id" not in entry:
                raise _bad_attachment(pos, "BASE_TYPE_REQUIRED", "This field is required", "id")
            try:
                aid = int(entry["id"])
            except (TypeError, ValueError):
                error = _bad_attachment(pos, "NUMBER_TYPE_COERCE", "Value is not int.", "id")
                raise error from None
            upload = by_index.get(aid)
            if upload is not None and aid not in used:
                used.add(aid)
                made.append(_make_attachment(state, channel, upload, entry))
            elif editing:
                keep.append(aid)
            else:
                raise _bad_attachment(pos, "ATTACHMENT_NOT_FOUND", "Attachment data not found")
    # Uploads the attachments array does not mention are still attached (Discord does so).
    for upload in body.uploads:
        if upload.index not in used:
            made.append(_make_attachment(state, channel, upload, None))
    return made, keep


def _make_attachment(
    state: State, channel: Channel, upload: Upload, entry: Mapping[str, Any] | None
) -> Attachment:
    filename = upload.filename
    description = None
    if entry is not None:
        filename = str(entry.get("filename") or filename)
        desc = entry.get("description")
        description = None if desc is None else str(desc)
    return Attachment(
        id=state.ids.next(),
        channel_id=channel.id,
        filename=filename,
        data=upload.data,
        content_type=guess_content_type(filename, upload.data),
        description=description,
    )


def is_empty(message: Message) -> bool:
    """Return whether a message would have nothing to show (Discord: 50006)."""
    return not (
        message.content.strip() or message.embeds or message.components or message.attachments
    )


def create_message(
    state: State,
    channel: Channel,
    body: Body,
    *,
    extra_flags: int = 0,
    **fields: Any,
) -> Message:
    """Validate a create payload and build (not store) the message."""
    payload = body.payload
    made, keep = _new_attachments(state, channel, body, payload.get("attachments"), editing=False)
    kept = [state.attachments[a] for a in keep if a in state.attachments]
    attachments = kept + made
    filenames = [a.filename for a in attachments]
    validate_message(payload, filenames)
    flags = (_int(payload.get("flags")) & _SETTABLE_FLAGS) | extra_flags
    message = Message(
        id=state.ids.next(),
        channel_id=channel.id,
        guild_id=channel.guild_id,
        author=state.bot,
        timestamp=state.clock.time(),
        content=str(payload.get("content") or ""),
        embeds=list(payload.get("embeds") or []),
        components=list(payload.get("components") or []),
        attachments=attachments,
        flags=flags,
        tts=bool(payload.get("tts", False)),
        nonce=None if payload.get("nonce") is None else str(payload["nonce"]),
        **fields,
    )
    message.mention_roles, message.mention_everyone = _mentions(state, channel, payload)
    reference = payload.get("message_reference")
    if isinstance(reference, Mapping) and reference.get("message_id") is not None:
        message.message_reference = {
            "message_id": str(reference["message_id"]),
            "channel_id": str(reference.get("channel_id") or channel.id),
        }
        if channel.guild_id is not None:
            message.message_reference["guild_id"] = str(channel.guild_id)
    if is_empty(message):
        raise known(rules.CANNOT_SEND_EMPTY_MESSAGE)
    return message


def _mentions(
    state: State, channel: Channel, payload: Mapping[str, Any]
) -> tuple[tuple[int, ...], bool]:
    """Return the roles and @everyone a new message mentions, as Discord resolves them.

    Role mentions (`<@&id>`) of the channel's guild count when `allowed_mentions` is absent, when
    its `parse` has "roles", or when its `roles` lists the id; @everyone / @here when it is absent
    or its `parse` has "everyone".
    """
    content = str(payload.get("content") or "")
    guild = state.guilds.get(channel.guild_id) if channel.guild_id is not None else None
    allowed = payload.get("allowed_mentions")
    parse: list[Any] = []
    listed: set[int] = set()
    if isinstance(allowed, Mapping):
        parse = list(allowed.get("parse") or [])
        listed = {int(r) for r in allowed.get("roles") or []}
    roles: list[int] = []
    for match in _ROLE_MENTION.finditer(content):
        role_id = int(match.group(1))
        if guild is None or role_id not in guild.roles or role_id == guild.id or role_id in roles:
            continue
        if allowed is None or "roles" in parse or role_id in listed:
            roles.append(role_id)
    everyone = ("@everyone" in content or "@here" in content) and (
        allowed is None or "everyone" in parse
    )
    return tuple(roles), everyone


def edit_message(state: State, message: Message, body: Body) -> None:
    """Apply a PATCH: only the fields present change; `attachments` lists what stays."""
    payload = body.payload
    channel = state.channels[message.channel_id]
    entries = payload.get("attachments")
    made, keep = _new_attachments(state, channel, body, entries, editing=True)
    if entries is None:
        attachments = [*message.attachments, *made]
    else:
        existing = {a.id: a for a in message.attachments}
        attachments = [existing[a] for a in keep if a in existing] + made
    filenames = [a.filename for a in attachments]
    validate_message(payload, filenames)
    new = Message(
        id=message.id,
        channel_id=message.channel_id,
        guild_id=message.guild_id,
        author=message.author,
        timestamp=message.timestamp,
        content=(str(payload.get("content") or "") if "content" in payload else message.content),
        embeds=list(payload.get("embeds") or []) if "embeds" in payload else message.embeds,
        components=(
            list(payload.get("components") or []) if "components" in payload else message.components
        ),
        attachments=attachments,
        flags=message.flags & ~MESSAGE_FLAG_LOADING,
    )
    if "flags" in payload and payload["flags"] is not None:
        suppress = _int(payload["flags"]) & MESSAGE_FLAG_SUPPRESS_EMBEDS
        new.flags = (new.flags & ~MESSAGE_FLAG_SUPPRESS_EMBEDS) | suppress
    if is_empty(new):
        raise known(rules.CANNOT_SEND_EMPTY_MESSAGE)
    state.replace_attachments(message.attachments, new.attachments)
    message.content = new.content
    message.embeds = new.embeds
    message.components = new.components
    message.attachments = new.attachments
    message.flags = new.flags
    message.edited_timestamp = state.clock.time()
    message.edits += 1
    state.message_changed("update", message)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _bad_attachment(pos: int, code: str, message: str, key: str | None = None) -> ApiError:
    """Return 50035 for the `pos`-th entry of `attachments` (or its `key`)."""
    errors: Json = {"_errors": [{"code": code, "message": message}]}
    return invalid_form({"attachments": {str(pos): errors if key is None else {key: errors}}})
