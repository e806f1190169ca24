"""Who may do what: role rules, per-server overrides, admins and Administrators (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from pterodisbot.permissions import Action, PermissionsSettings, RoleRule

OPERATORS = RoleRule(
    everyone=False, role_ids=frozenset({112233445566778899}), role_names=frozenset({"operators"})
)
ADMIN = RoleRule(everyone=False, role_names=frozenset({"admin"}))


def permissions(
    overrides: Mapping[str, Mapping[Action, RoleRule]] | None = None,
    *,
    admin: RoleRule = ADMIN,
    allow_administrator: bool = True,
) -> PermissionsSettings:
    """Return the shipped rules: status for everyone, address for Members, start for Operators."""
    rules = {action: RoleRule.when_empty(action) for action in Action}
    rules[Action.ADDRESS] = RoleRule(everyone=False, role_names=frozenset({"members"}))
    rules[Action.START] = OPERATORS
    rules[Action.ADMIN] = admin
    return PermissionsSettings(
        rules=rules,
        overrides=overrides or {},
        allow_administrator=allow_administrator,
        confirm_dangerous=True,
        hide_address=False,
    )


def allows(
    perms: PermissionsSettings,
    action: Action,
    server: str | None = None,
    names: tuple[str, ...] = (),
    ids: tuple[int, ...] = (),
    *,
    administrator: bool = False,
) -> bool:
    return perms.allows(
        action,
        server_identifier=server,
        role_ids=ids,
        role_names=names,
        is_administrator=administrator,
    )


def test_an_empty_list_means_everyone_for_status_and_address_and_admins_only_for_the_rest() -> None:
    assert RoleRule.when_empty(Action.STATUS).everyone
    assert RoleRule.when_empty(Action.ADDRESS).everyone
    for action in (Action.START, Action.STOP, Action.RESTART, Action.KILL, Action.ADMIN):
        assert RoleRule.when_empty(action).is_empty, action

    perms = permissions()
    assert allows(perms, Action.STATUS)
    assert not allows(perms, Action.KILL, names=("Operators",))
    assert allows(perms, Action.KILL, names=("Admin",))


def test_a_rule_matches_role_names_whatever_their_case_or_role_ids() -> None:
    perms = permissions()

    assert not allows(perms, Action.ADDRESS)
    assert allows(perms, Action.ADDRESS, names=("MEMBERS",))
    assert allows(perms, Action.START, names=("Operators",))
    assert allows(perms, Action.START, ids=(112233445566778899,))
    assert not allows(perms, Action.START, names=("Operator",), ids=(1,))


def test_a_server_override_replaces_the_rule_for_that_server_only() -> None:
    mods = RoleRule(everyone=False, role_names=frozenset({"minecraft mods"}))
    perms = permissions({"1a2b3c4d": {Action.START: mods, Action.KILL: RoleRule(everyone=True)}})

    assert not allows(perms, Action.START, "1a2b3c4d", ("Operators",))
    assert allows(perms, Action.START, "1a2b3c4d", ("Minecraft Mods",))
    assert allows(perms, Action.KILL, "1a2b3c4d")
    # Other servers, and actions the section leaves out, keep [permissions].
    assert allows(perms, Action.START, "ffff0000", ("Operators",))
    assert not allows(perms, Action.KILL, "ffff0000", ("Operators",))
    assert allows(perms, Action.ADDRESS, "1a2b3c4d", ("Members",))


def test_admins_may_do_everything_and_only_admins_may_use_admin_commands() -> None:
    perms = permissions({"1a2b3c4d": {Action.STOP: RoleRule(everyone=False)}})

    assert allows(perms, Action.STOP, "1a2b3c4d", ("Admin",))
    assert allows(perms, Action.ADMIN, names=("Admin",))
    assert not allows(perms, Action.ADMIN, names=("Operators",))
    # An empty admin rule makes nobody an admin, not everybody.
    assert not allows(permissions(admin=RoleRule(everyone=False)), Action.KILL, names=("Admin",))


def test_administrators_may_do_everything_unless_that_is_turned_off() -> None:
    assert allows(permissions(), Action.ADMIN, administrator=True)
    assert allows(permissions(), Action.KILL, "1a2b3c4d", administrator=True)

    strict = permissions(allow_administrator=False)
    assert not allows(strict, Action.STOP, administrator=True)
    assert not allows(strict, Action.ADMIN, administrator=True)
    assert allows(strict, Action.STOP, names=("Admin",), administrator=True)
