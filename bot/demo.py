"""Demo data for the sandbox (演示数据): a committee, two branches and a few
invented members. Every name, ID number and phone here is made up."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clocks import LOST_AFTER_MONTHS, lost_from
from domain.dates import add_months
from domain.dispositions import EventKind, Outcome, Status, Step
from domain.idcard import check_digit
from storage.db import write_tx
from storage.models import (
    Campaign,
    CampaignStage,
    ContactAttempt,
    Disposition,
    DispositionEvent,
    FamilyMember,
    Member,
    MemberCategory,
    MobileRecord,
    Organisation,
    SearchOutcome,
)
from storage.services import audit, campaigns
from storage.services.access import Role, load_actor
from storage.services.orgs import create_org
from storage.services.users import grant_role

COMMITTEE = "示范机关党委"
BRANCHES = ("第一党支部", "第二党支部")
# (name, gender, birth, joined, type, last org life, last dues, phone)
PEOPLE = (
    (
        "赵示一",
        "男",
        date(1972, 3, 8),
        "1996-07",
        "正式",
        date(2026, 10, 20),
        date(2026, 10, 20),
        "13900000001",
    ),
    (
        "钱示二",
        "女",
        date(1985, 11, 2),
        "2008-06",
        "正式",
        date(2025, 12, 5),
        date(2026, 1, 10),
        "13900000002",
    ),
    ("孙示三", "男", date(1990, 6, 15), "2014-05", "正式", date(2024, 4, 1), None, None),
    (
        "李示四",
        "女",
        date(1998, 1, 21),
        "2025-12",
        "预备",
        date(2026, 11, 1),
        date(2026, 11, 1),
        "13900000004",
    ),
    ("周示五", "男", date(1979, 9, 30), "2003-07", "正式", None, None, None),
)


CATEGORIES = ("在职", "离退休")
# 家庭主要成员: the first 知情人 the search suggests for a lost member.
FAMILY = {
    "孙示三": (("配偶", "吴示例", "示范公司", "13900000031"), ("母亲", "郑示例", None, None)),
    "周示五": (("子女", "周小示", "示范学校", "13900000051"),),
}


def demo_id(birth: date, male: bool, serial: int) -> str:
    first17 = f"410102{birth:%Y%m%d}{serial * 2 + (1 if male else 0):03d}"
    return first17 + check_digit(first17)


# The demo campaign is the 全市 双查 template moved so that today falls in its
# 集中排查 stage, with the 登记表/汇总表 deadline this many days ahead: /deadlines,
# /sweep and /review have something to show, and a reminder is days away.
DEMO_TEMPLATE = "dual_check"
DEMO_REPORTS_STAGE = "reports"
DEMO_DAYS_TO_REPORTS = 6


async def seed_demo(session: AsyncSession, user_id: int, today: date) -> None:
    """Idempotent: a second sandbox start finds the demo already there."""
    if await session.scalar(select(Organisation.id).where(Organisation.name == COMMITTEE)):
        return
    committee = await create_org(
        session, name=COMMITTEE, kind="committee", parent_id=None, actor_id=None
    )
    branches = [
        await create_org(session, name=name, kind="branch", parent_id=committee.id, actor_id=None)
        for name in BRANCHES
    ]
    async with write_tx(session):
        session.add_all(
            MemberCategory(committee_id=committee.id, name=name, position=i)
            for i, name in enumerate(CATEGORIES)
        )
        for serial, (name, gender, birth, joined, kind, org_life, dues, phone) in enumerate(
            PEOPLE, 1
        ):
            member = Member(
                branch_id=branches[serial % 2].id if serial > 3 else branches[0].id,
                name=name,
                gender=gender,
                birth=f"{birth:%Y-%m}",
                joined=joined,
                member_type=kind,
                id_number=demo_id(birth, gender == "男", serial),
                last_org_life=org_life,
                last_dues=dues,
                phone=phone,
                category=CATEGORIES[serial % 2],
            )
            session.add(member)
            await session.flush()
            for position, (relation, relative, unit, relative_phone) in enumerate(
                FAMILY.get(name, ())
            ):
                session.add(
                    FamilyMember(
                        member_id=member.id,
                        relation=relation,
                        name=relative,
                        work_unit=unit,
                        phone=relative_phone,
                        position=position,
                    )
                )
        session.add(_soon_lost(branches[0].id, today))
        await session.flush()
        await _demo_search(session, user_id, today)
        await grant_role(session, user_id=user_id, role=Role.ADMIN, org_id=None, granted_by=None)
        await grant_role(
            session, user_id=user_id, role=Role.COMMITTEE, org_id=committee.id, granted_by=None
        )
        await grant_role(
            session, user_id=user_id, role=Role.SECRETARY, org_id=branches[0].id, granted_by=None
        )
    await _demo_campaign(session, user_id, committee.id, today)


async def _demo_search(session: AsyncSession, user_id: int, today: date) -> None:
    """Something for every form to show: 孙示三 searched through every channel
    group and still unreachable, 钱示二 reached (back from abroad), 赵示一 gone
    to work elsewhere (流出), 周示五's transfer letter without a receipt (口袋)."""
    people = {m.name: m for m in await session.scalars(select(Member))}
    for n, (channel, group) in enumerate(
        (("phone", 1), ("relative", 2), ("hotline", 3), ("police", 5))
    ):
        session.add(
            ContactAttempt(
                member_id=people["孙示三"].id,
                channel=channel,
                channel_group=group,
                result="not_reached",
                attempted_on=today - timedelta(days=40 - 3 * n),
                contact_person="吴示例" if group == 2 else None,
                recorded_by=user_id,
            )
        )
    session.add_all(
        [
            SearchOutcome(
                member_id=people["孙示三"].id,
                kind="unreachable",
                decided_on=today - timedelta(days=20),
                lost_reason="6",
                occupation="8",
                org_category="8",
                recorded_by=user_id,
            ),
            SearchOutcome(
                member_id=people["钱示二"].id,
                kind="found",
                decided_on=today - timedelta(days=15),
                lost_reason="1",
                occupation="3",
                org_category="2",
                had_misconduct=False,
                misconduct_check="self",
                attitude="愿意按时参加组织生活",
                recorded_by=user_id,
            ),
            MobileRecord(
                member_id=people["赵示一"].id,
                registered_on=today - timedelta(days=30),
                left_on=today - timedelta(days=240),
                destination="示范省示范市",
                region="W",
                direction="3",
                reason="M",
                occupation="5",
                work_unit="示范工程公司",
                unit_has_org=True,
                org_type="2",
                reported_branch="示范社区党支部",
                reported_contact="冯示例",
                reported_post="书记",
                reported_phone="13900000099",
                recorded_by=user_id,
            ),
        ]
    )
    await _demo_case(session, people["孙示三"], user_id, today)
    people["赵示一"].education = "本科及以上"
    people["赵示一"].ethnicity = "汉族"
    people["周示五"].transfer_letter_date = today - timedelta(days=200)
    people["周示五"].transfer_receiver = "示范街道党工委"
    # 出国（境）情况 (seed 001 附件1 note 7): posted abroad, back days before
    # the search reached him, asking to resume organisation life.
    back = today - timedelta(days=20)
    people["钱示二"].abroad_date = f"{back.year - 2}-{back.month:02d}"
    people["钱示二"].abroad_reason = "外派"
    people["钱示二"].abroad_contact = "不定期"
    people["钱示二"].abroad_party_status = "未办理"
    people["钱示二"].return_date = back.isoformat()
    people["钱示二"].org_life_restored = "已申请未恢复"


async def _demo_case(session: AsyncSession, member: Member, user_id: int, today: date) -> None:
    """孙示三's 停止党籍 waits for the committee's approval: /pending and the
    批准 / 退回 buttons have something to show."""
    case = Disposition(
        member_id=member.id,
        outcome=Outcome.SUSPEND.value,
        opened_on=today - timedelta(days=10),
        opened_by=user_id,
        status=Status.IN_PROGRESS.value,
        position=1,
    )
    session.add(case)
    await session.flush()
    votes = {"present": 12, "votes_for": 11, "votes_against": 0, "votes_abstain": 1}
    session.add(
        DispositionEvent(
            disposition_id=case.id,
            seq=1,
            kind=EventKind.RECORDED.value,
            step=Step.RESOLUTION.value,
            on=today - timedelta(days=5),
            by=user_id,
            facts={**votes, "signed": False, "unsigned_reason": "本人无法取得联系"},
        )
    )
    for action, step in (("open", ""), ("recorded", Step.RESOLUTION.value)):
        audit.record(
            session,
            actor_id=user_id,
            entity="disposition",
            entity_id=case.id,
            action=action,
            field=case.outcome,
            new=step,
            member_id=member.id,
            org_id=member.branch_id,
        )


# A member whose six months run out this many days after the demo is seeded, so
# `/clock +2d 09:00` brings the daily digest with a member newly lost (R-LOST-6M).
DEMO_DAYS_TO_LOST = 2


def _soon_lost(branch_id: int, today: date) -> Member:
    crossing = today + timedelta(days=DEMO_DAYS_TO_LOST)
    # Month ends clamp (31 Aug − 6 months = 28 Feb): the latest contact whose
    # six months run out by then.
    last = add_months(crossing, -LOST_AFTER_MONTHS) + timedelta(days=3)
    while lost_from(last) > crossing:
        last -= timedelta(days=1)
    birth = date(1988, 4, 12)
    return Member(
        branch_id=branch_id,
        name="吴示六",
        gender="女",
        birth=f"{birth:%Y-%m}",
        joined="2012-06",
        member_type="正式",
        id_number=demo_id(birth, False, len(PEOPLE) + 1),
        last_org_life=last,
        last_dues=last,
        phone="13900000006",
        category=CATEGORIES[0],
    )


async def _demo_campaign(
    session: AsyncSession, user_id: int, committee_id: int, today: date
) -> None:
    actor = await load_actor(session, user_id)
    campaign = await campaigns.create_campaign(
        session,
        actor,
        committee_id,
        template=DEMO_TEMPLATE,
        name=f"{today.year}年党员组织关系集中排查（演示）",
        year=today.year,
    )
    async with write_tx(session):
        reports_due = await session.scalar(
            select(CampaignStage.due).where(
                CampaignStage.campaign_id == campaign.id,
                CampaignStage.key == DEMO_REPORTS_STAGE,
            )
        )
        assert reports_due is not None
        shift = today + timedelta(days=DEMO_DAYS_TO_REPORTS) - reports_due
        row = await session.get(Campaign, campaign.id)
        assert row is not None
        row.starts, row.ends = row.starts + shift, row.ends + shift
        stages = list(
            await session.scalars(
                select(CampaignStage).where(CampaignStage.campaign_id == campaign.id)
            )
        )
        for stage in stages:
            stage.due = stage.due + shift
            stage.starts = stage.starts + shift if stage.starts else None
