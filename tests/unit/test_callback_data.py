"""Telegram refuses callback_data over 64 bytes: every CallbackData we build,
packed with the largest ids and longest codes it can carry, fits (issue 2 trap)."""

from __future__ import annotations

import pytest

from domain.channels import Channel
from domain.member_fields import FIELDS
from handlers.attempts import AttemptAction
from handlers.campaigns import CampaignAct
from handlers.field_input import FieldAnswer
from handlers.invite import InviteInto
from handlers.meetings import Tick
from handlers.member_view import BranchPick, MemberAction, MemberListPage
from handlers.review import ReviewAct
from handlers.search_log import LogStep
from handlers.sweep import SweepAct

BIG = 2**31 - 1
LONGEST_FIELD = max((f.key for f in FIELDS), key=len)
LONGEST_CHANNEL = max((c.value for c in Channel), key=len)

CASES = [
    MemberAction(action="lognext", member_id=BIG, arg=LONGEST_FIELD),
    MemberListPage(branch_id=BIG, page=99_999),
    BranchPick(purpose="template", branch_id=BIG),
    FieldAnswer(value="c99"),
    InviteInto(org_id=BIG, role="committee"),
    LogStep(step="channel", value=LONGEST_CHANNEL),
    Tick(op="toggle", value=str(BIG)),
    AttemptAction(attempt_id=BIG, op="channel", value=LONGEST_CHANNEL),
    CampaignAct(op="tpl", id=BIG, value="mobile_2023.2099"),
    SweepAct(
        op="noesc", campaign_id=BIG, branch_id=BIG, member_id=BIG, check=5, answer="discipline"
    ),
    ReviewAct(campaign_id=BIG),
]


@pytest.mark.parametrize("data", CASES, ids=lambda d: type(d).__name__)
def test_callback_data_fits_in_64_bytes(data):
    assert len(data.pack().encode()) <= 64
