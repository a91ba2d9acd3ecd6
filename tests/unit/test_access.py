"""The ``Actor`` behind an update (SPEC §1, R-ACL-BRANCH): its pure parts only.

The database-backed checks (``require_branch`` …) are tested in tests/storage.
"""

from __future__ import annotations

import dataclasses

import pytest

from storage.services.access import AccessDenied, Actor, Grant, Role


def test_unknown_user_holds_no_role_R_ACL_BRANCH():
    """An unknown Telegram user can only redeem an invitation (SPEC §1)."""
    # Arrange
    stranger = Actor(user_id=1001)

    # Act / Assert
    assert stranger.is_known is False
    assert stranger.is_admin is False
    assert all(not stranger.has_role(role) for role in Role)
    assert all(stranger.orgs(role) == () for role in Role)


def test_secretary_is_known_and_holds_only_their_branches_R_ACL_BRANCH():
    # Arrange
    secretary = Actor(user_id=1, grants=(Grant(Role.SECRETARY, 11), Grant(Role.SECRETARY, 12)))

    # Act
    branches = secretary.orgs(Role.SECRETARY)

    # Assert
    assert secretary.is_known
    assert branches == (11, 12)
    assert secretary.orgs(Role.COMMITTEE) == ()
    assert secretary.has_role(Role.SECRETARY)
    assert not secretary.has_role(Role.COMMITTEE)
    assert not secretary.is_admin


def test_roles_in_several_places_are_kept_apart_R_ACL_BRANCH():
    """A user may hold roles in several places (SPEC §1); each role sees its own orgs."""
    # Arrange
    actor = Actor(
        user_id=2,
        grants=(Grant(Role.SECRETARY, 11), Grant(Role.COMMITTEE, 5), Grant(Role.SECRETARY, 13)),
    )

    # Act / Assert
    assert actor.orgs(Role.SECRETARY) == (11, 13)
    assert actor.orgs(Role.COMMITTEE) == (5,)
    assert actor.has_role(Role.SECRETARY) and actor.has_role(Role.COMMITTEE)
    assert not actor.is_admin


def test_admin_grant_without_an_org_is_admin_but_has_no_orgs():
    # Arrange
    admin = Actor(user_id=3, grants=(Grant(Role.ADMIN, None),))

    # Act / Assert
    assert admin.is_admin
    assert admin.is_known
    assert admin.has_role(Role.ADMIN)
    assert admin.orgs(Role.ADMIN) == ()
    assert admin.orgs(Role.SECRETARY) == ()


def test_grants_without_an_org_are_left_out_of_orgs():
    # Arrange
    actor = Actor(user_id=4, grants=(Grant(Role.COMMITTEE, None), Grant(Role.COMMITTEE, 7)))

    # Act / Assert
    assert actor.orgs(Role.COMMITTEE) == (7,)
    assert actor.has_role(Role.COMMITTEE)


def test_admin_alone_is_not_a_secretary_or_committee_member():
    """Admins run the deployment and hold no member data (SPEC §1)."""
    # Arrange
    admin = Actor(user_id=5, grants=(Grant(Role.ADMIN, None),))

    # Act / Assert
    assert not admin.has_role(Role.SECRETARY)
    assert not admin.has_role(Role.COMMITTEE)


def test_orgs_keep_the_order_of_the_grants():
    # Arrange
    actor = Actor(user_id=6, grants=tuple(Grant(Role.SECRETARY, i) for i in (30, 10, 20)))

    # Act / Assert
    assert actor.orgs(Role.SECRETARY) == (30, 10, 20)


def test_actor_defaults_to_chinese_locale():
    # Act / Assert
    assert Actor(user_id=7).locale == "zh"
    assert Actor(user_id=7, locale="en").locale == "en"


def test_actor_and_grant_are_frozen():
    # Arrange
    actor = Actor(user_id=8, grants=(Grant(Role.SECRETARY, 1),))

    # Act / Assert
    with pytest.raises(dataclasses.FrozenInstanceError):
        actor.grants = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        actor.grants[0].org_id = 2  # type: ignore[misc]


def test_role_values_are_the_stored_codes():
    # Act / Assert
    assert [r.value for r in Role] == ["secretary", "committee", "admin"]
    assert Role("committee") is Role.COMMITTEE


def test_access_denied_carries_no_detail_R_ACL_BRANCH():
    """A refusal never says whether the thing exists: the handler answers only “无权限”."""
    # Act
    refusal = AccessDenied()

    # Assert
    assert str(refusal) == ""
    assert refusal.args == ()
