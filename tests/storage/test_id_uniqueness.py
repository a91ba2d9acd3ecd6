"""身份证号 unique per deployment (SPEC §2): a 15-digit number and its
18-digit upgrade are the same person, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.idcard import parse_id_number
from storage.services import members
from storage.services.access import Actor, Grant, Role
from tests.conftest import both_backends
from tests.factories import id_number, member_values, org_tree


@both_backends
async def test_the_legacy_and_the_upgraded_number_cannot_both_be_registered(session):
    orgs = await org_tree(session, {"示例党委": ("一支部", "二支部")})
    one, two = orgs["一支部"], orgs["二支部"]
    sec_one = Actor(1, (Grant(Role.SECRETARY, one),))
    sec_two = Actor(2, (Grant(Role.SECRETARY, two),))
    full = id_number(serial=77)
    legacy = parse_id_number(full).equivalents[1]
    assert len(legacy) == 15
    values = member_values(7, id_number=full, birth="1985-06", gender="男")
    member_id = (await members.add_member(session, sec_one, one, values)).id
    with pytest.raises(InvalidInput, match="已经登记过"):
        await members.add_member(session, sec_two, two, {**values, "id_number": legacy})
    # The member's own number may be rewritten in its other form.
    await members.update_fields(session, sec_one, member_id, {"id_number": legacy})
