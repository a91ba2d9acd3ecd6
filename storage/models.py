"""SQLAlchemy 2 models (数据模型). Schema changes go through Alembic.

Members' partial dates (出生年月, 入党时间 …) are stored as ISO text
("2016-03" or "2016-03-18") so that month-only values keep their precision and
still sort; clock dates (组织生活, 党费, 介绍信) are real DATE columns.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.crypto import EncryptedText, id_hmac

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    """党组织: 上级党委 (upper) → 基层党委/党总支 (committee) → 党支部 (branch)."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # upper | committee | branch
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_organisation_parent_name"),)


class User(Base):
    """A Telegram user known to the bot (用户)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # /notify: the daily digest is on unless the user turned it off.
    digest_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Telegram answered 403 (the user blocked the bot): bulk messages skip them
    # until they write again (the middleware clears it on their next update).
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RoleGrant(Base):
    """A role held in one organisation (角色): secretary / committee / admin.

    An admin grant has no organisation: admins run the whole deployment.
    """

    __tablename__ = "role_grant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    granted_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(Base):
    """Single-use invitation code (邀请码) with an expiry."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    redeemed_by: Mapped[int | None] = mapped_column(BigInteger)
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Member(Base):
    """党员 (SPEC §2). Field keys match ``domain.member_fields.FIELDS``."""

    __tablename__ = "member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(30), index=True)
    gender: Mapped[str] = mapped_column(String(4))
    birth: Mapped[str] = mapped_column(String(10))
    joined: Mapped[str] = mapped_column(String(10))
    member_type: Mapped[str] = mapped_column(String(4))
    # 身份证号, 现居住地, 联系电话 are stored encrypted (storage/crypto.py); the
    # ID number's HMAC is what is unique and what lookups compare.
    id_number: Mapped[str | None] = mapped_column(EncryptedText("member.id_number"))
    id_number_hmac: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    full_member_since: Mapped[str | None] = mapped_column(String(10))
    education: Mapped[str | None] = mapped_column(String(16))
    marital_status: Mapped[str | None] = mapped_column(String(4))
    work_start: Mapped[str | None] = mapped_column(String(10))
    academic: Mapped[str | None] = mapped_column(String(20))
    degree: Mapped[str | None] = mapped_column(String(20))
    school: Mapped[str | None] = mapped_column(String(60))
    party_post: Mapped[str | None] = mapped_column(String(30))
    work_unit: Mapped[str | None] = mapped_column(String(100))
    work_unit_has_org: Mapped[bool | None] = mapped_column(Boolean)
    residence: Mapped[str | None] = mapped_column(EncryptedText("member.residence"))
    phone: Mapped[str | None] = mapped_column(EncryptedText("member.phone"))
    # Indexed: the daily digest scans the clocks as date ranges (issue 14).
    last_org_life: Mapped[date | None] = mapped_column(Date, index=True)
    last_dues: Mapped[date | None] = mapped_column(Date, index=True)
    remarks: Mapped[str | None] = mapped_column(String(200))
    transfer_letter_date: Mapped[date | None] = mapped_column(Date, index=True)
    transfer_receiver: Mapped[str | None] = mapped_column(String(100))
    transfer_receipt_date: Mapped[date | None] = mapped_column(Date)
    # 人员类别: one of the committee's MemberCategory names (kept as text so a
    # register keeps its meaning when the list changes).
    category: Mapped[str | None] = mapped_column(String(20))
    # 出国（境）情况 (seed 001 附件1 note 7): 出国日期 and 回国日期 are partial
    # dates like the others; the rest hold the note's words (因私/因公/留学…,
    # 定期/不定期/失去联系, 保留党籍一年/未办理/停止党籍, 已恢复/已申请未恢复/未申请).
    abroad_date: Mapped[str | None] = mapped_column(String(10))
    abroad_reason: Mapped[str | None] = mapped_column(String(10))
    abroad_contact: Mapped[str | None] = mapped_column(String(10))
    abroad_party_status: Mapped[str | None] = mapped_column(String(12))
    return_date: Mapped[str | None] = mapped_column(String(10))
    org_life_restored: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    branch: Mapped[Organisation] = relationship(lazy="raise")


@event.listens_for(Member.id_number, "set")
def _id_number_set(target: Member, value: str | None, _old: object, _initiator: object) -> None:
    """The HMAC follows the ID number on every ORM write (the roster import's
    bulk statements set it themselves)."""
    target.id_number_hmac = id_hmac(value)


class MemberCategory(Base):
    """人员类别: the short list a committee sets (a school: 教职工 / 学生); the
    党员摸底核查情况统计表 counts by it (seed 000 附件9)."""

    __tablename__ = "member_category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("committee_id", "name", name="uq_member_category_committee_name"),
    )


class FamilyMember(Base):
    """家庭主要成员及重要社会关系 (seed 001 附件1 note 8): 配偶、子女、父母等.
    They are the first 知情人 the search suggests (SPEC §4, channel group 2)."""

    __tablename__ = "family_member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    relation: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(30))
    work_unit: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(EncryptedText("family_member.phone"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """审计日志 / 一人一档: who changed what, when, old and new value (R-DOSSIER).

    ``member_id`` is set for every event about a member so the dossier is one
    indexed query; events are only ever inserted.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    entity: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    field: Mapped[str | None] = mapped_column(String(40))
    # Encrypted: a change of an ID number, phone or address keeps both values.
    old_value: Mapped[str | None] = mapped_column(EncryptedText("audit_event.old_value"))
    new_value: Mapped[str | None] = mapped_column(EncryptedText("audit_event.new_value"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))

    __table_args__ = (
        Index("ix_audit_event_member", "member_id", "id"),
        Index("ix_audit_event_entity", "entity", "entity_id"),
        # /audit: a committee's newest events first (issue 18 point 4).
        Index("ix_audit_event_org", "org_id", "id"),
    )


class FsmRecord(Base):
    """aiogram FSM state and data for one conversation (会话状态), so that a
    secretary half-way through /add continues after a restart."""

    __tablename__ = "fsm_record"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    # Encrypted: a conversation half-way through /add holds what was typed.
    data: Mapped[str | None] = mapped_column(EncryptedText("fsm_record.data"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Meeting(Base):
    """A branch's organisation-life meeting or dues collection (组织生活 / 交纳党费):
    everyone ticked gets its date as their last contact (R-LOST-6M)."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # org_life | dues | both
    held_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeetingAttendance(Base):
    __tablename__ = "meeting_attendance"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True, index=True)


class ContactAttempt(Base):
    """One search attempt (查找联系失联党员情况记录表, seed 001 附件3).

    A correction never overwrites: it adds a new row that ``replaces_id`` the
    old one, and the old row gets ``superseded_by_id`` (R-DOSSIER).
    """

    __tablename__ = "contact_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    channel: Mapped[str] = mapped_column(String(16))
    channel_group: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(16))
    attempted_on: Mapped[date] = mapped_column(Date)
    contact_person: Mapped[str | None] = mapped_column(String(60))  # whom it reached
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("contact_attempt.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_contact_attempt_member", "member_id", "attempted_on"),)


class AttemptEvidence(Base):
    """A photo or document kept as an attempt's evidence (查找凭证). The bytes are
    stored here, not only a Telegram file id: the 2017 review reads them."""

    __tablename__ = "attempt_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("contact_attempt.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # photo | document
    file_name: Mapped[str | None] = mapped_column(String(200))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    telegram_file_id: Mapped[str | None] = mapped_column(String(200))
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ImpossibleChannel(Base):
    """Why a channel group could not be used for a member (R-EXHAUSTED)."""

    __tablename__ = "impossible_channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    channel_group: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SearchOutcome(Base):
    """How a search ended (经查找取得联系 / 经查找仍然无法取得联系, 附件5/6).

    A member may be searched again later: the newest outcome that is not
    superseded is the one in force.
    """

    __tablename__ = "search_outcome"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # found | unreachable
    decided_on: Mapped[date] = mapped_column(Date)  # contact date, or the end of the search
    lost_reason: Mapped[str | None] = mapped_column(String(4))  # 失去联系情形
    lost_reason_note: Mapped[str | None] = mapped_column(String(200))
    occupation: Mapped[str | None] = mapped_column(String(4))  # LostOccupation
    org_category: Mapped[str | None] = mapped_column(String(4))  # 附件5 or 附件6 list
    had_misconduct: Mapped[bool | None] = mapped_column(Boolean)  # 不合格表现/违纪违法
    misconduct_note: Mapped[str | None] = mapped_column(String(300))
    misconduct_check: Mapped[str | None] = mapped_column(String(16))
    attitude: Mapped[str | None] = mapped_column(String(300))
    is_pocket: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    superseded_by_id: Mapped[int | None] = mapped_column(Integer)


class MobileRecord(Base):
    """流出党员登记 (seed 003 附件1, seed 001 附件4): where a mobile member went and
    where they reported. ``ended_on`` closes it (returned, or relation moved)."""

    __tablename__ = "mobile_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    registered_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)  # 外出时间
    destination: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(2))  # MobileRegion V/W/X
    direction: Mapped[str | None] = mapped_column(String(2))  # FlowDirection 附件4
    reason: Mapped[str | None] = mapped_column(String(2))  # MobileIndustry J–U
    reason_note: Mapped[str | None] = mapped_column(String(100))
    occupation: Mapped[str | None] = mapped_column(String(2))  # MobileOccupation 附件4
    work_unit: Mapped[str | None] = mapped_column(String(100))
    unit_has_org: Mapped[bool | None] = mapped_column(Boolean)
    # 党组织类型 (附件4 note 5): the kind of Party organisation the member is
    # with where they went, PartyOrgType code.
    org_type: Mapped[str | None] = mapped_column(String(2))
    certificate_no: Mapped[str | None] = mapped_column(String(40))  # 流动党员活动证编号
    reported_branch: Mapped[str | None] = mapped_column(String(100))
    reported_contact: Mapped[str | None] = mapped_column(String(40))
    reported_post: Mapped[str | None] = mapped_column(String(40))
    reported_phone: Mapped[str | None] = mapped_column(
        EncryptedText("mobile_record.reported_phone")
    )
    transferred_in_campaign: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_on: Mapped[date | None] = mapped_column(Date)


class Campaign(Base):
    """集中排查 campaign (SPEC §8), started by a committee from a notice's template."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    template: Mapped[str] = mapped_column(String(16))
    starts: Mapped[date] = mapped_column(Date)
    ends: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # R-REMIND offsets in days before a deadline, e.g. "7,3,1,0"; None: the default.
    remind_offsets: Mapped[str | None] = mapped_column(String(32))


class CampaignStage(Base):
    """A stage or reporting deadline of a campaign (阶段 / 报送节点). Reminders
    (R-REMIND) hang off these rows."""

    __tablename__ = "campaign_stage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    key: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(60))
    starts: Mapped[date | None] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)
    what: Mapped[str | None] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(24))
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)


class StageItem(Base):
    """One thing a stage names as due (报送事项): a form or a report. ``form`` is
    the form's key where the bot can build it (the forms issue's /export)."""

    __tablename__ = "stage_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("campaign_stage.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(100))
    form: Mapped[str | None] = mapped_column(String(32))


class ItemSubmission(Base):
    """已报送: an organisation (a branch, or the committee for what it owes
    upward) marked an item submitted. Undoing sets ``undone_at``; marking again
    adds a row, so who marked what and when is never lost."""

    __tablename__ = "item_submission"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("stage_item.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    marked_by: Mapped[int | None] = mapped_column(BigInteger)
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    undone_by: Mapped[int | None] = mapped_column(BigInteger)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_item_submission_item_org", "item_id", "org_id"),)


class Notification(Base):
    """The exactly-once ledger of scheduled messages (发送记录, R-REMIND): a row is
    claimed before sending and confirmed (``sent_at``) after. The unique key
    makes a second scheduler, a restart or a retry find the row already there;
    a claim left unconfirmed for minutes (a crash between claim and send) is
    claimed again."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # digest | reminder | escalation
    subject: Mapped[str] = mapped_column(String(64))  # e.g. "item:12:org:5", "branch:5"
    recipient: Mapped[int] = mapped_column(BigInteger)
    due: Mapped[date] = mapped_column(Date)  # the deadline, or the digest's day
    offset_days: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(Integer, default=1)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Given up on (blocked user, deadline passed): never retried.
    dropped: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint(
            "kind", "subject", "recipient", "due", "offset_days", name="uq_notification_key"
        ),
        Index("ix_notification_unsent", "sent_at", "claimed_at"),
    )


class CampaignBranch(Base):
    """Branches in a campaign's scope."""

    __tablename__ = "campaign_branch"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    branch_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id"), primary_key=True, index=True
    )


class SweepAnswer(Base):
    """One answer to one of the five checks (五核查) for a member in a campaign.
    Changing an answer adds a row and marks the old one superseded (R-DOSSIER)."""

    __tablename__ = "sweep_answer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    check_no: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(300))
    answered_by: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    superseded_by_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_sweep_answer_campaign_member", "campaign_id", "member_id"),)


class Escalation(Base):
    """A case the sweep hands upward (上报 / 移交): a suspected 违规入党 or
    无法认定党员身份 goes to the committee (check 2); a suspected 违纪违法 is a
    referral to 纪检/公安 (check 5), recorded here and never settled in the bot."""

    __tablename__ = "escalation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # identity | discipline
    referred_to: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BranchReview(Base):
    """The committee working group's review of a branch's sweep (核查, seed 004):
    a finding, a send-back with what to correct, or the 核查完成 mark."""

    __tablename__ = "branch_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(16))  # finding | returned | complete
    # A finding about one member (seed 004: 核查 per branch and, where needed, per member).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    text: Mapped[str | None] = mapped_column(String(500))
    reviewed_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_branch_review_campaign_branch", "campaign_id", "branch_id"),)


class Disposition(Base):
    """处置 (SPEC §5): one outcome chosen for one member, and its procedure.

    What happened is in ``DispositionEvent`` rows, only ever appended
    (R-DOSSIER). ``status``, ``position``, ``effective_on`` and ``ends_on`` are
    what replaying those events gives (``domain.dispositions.standing``), kept
    here so that /pending, the digest's clocks and the summaries are one
    indexed query; they are rewritten from the events on every append.
    """

    __tablename__ = "disposition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(24))  # domain.dispositions.Outcome
    opened_on: Mapped[date] = mapped_column(Date)
    opened_by: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    position: Mapped[int] = mapped_column(Integer, default=0)
    effective_on: Mapped[date | None] = mapped_column(Date)
    # The clock the outcome starts (R-SUSPEND-2Y, R-DEADLINE-CORRECT,
    # R-PROBATION, R-ABROAD-RETAIN): the day it runs out.
    ends_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    member: Mapped[Member] = relationship(lazy="raise")

    __table_args__ = (Index("ix_disposition_status", "status", "member_id"),)


class DispositionEvent(Base):
    """One step of a disposition: recorded, 批准, 退回, withdrawn, not adopted.

    ``seq`` numbers a disposition's events from 1; the unique key makes two
    answers to the same approval (two committee users, two workers) collide
    instead of both counting.
    """

    __tablename__ = "disposition_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    disposition_id: Mapped[int] = mapped_column(ForeignKey("disposition.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # domain.dispositions.EventKind
    step: Mapped[str | None] = mapped_column(String(24))  # domain.dispositions.Step
    on: Mapped[date] = mapped_column(Date)
    by: Mapped[int | None] = mapped_column(BigInteger)
    # The facts the notice asks for (votes, signature, 文号…); dates as ISO text.
    facts: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("disposition_id", "seq", name="uq_disposition_event_disposition_seq"),
    )


class DispositionAppeal(Base):
    """申诉 against a decision, and the review's result (written once)."""

    __tablename__ = "disposition_appeal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    disposition_id: Mapped[int] = mapped_column(ForeignKey("disposition.id"), index=True)
    filed_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(String(500))
    filed_by: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[str | None] = mapped_column(String(500))
    reviewed_on: Mapped[date | None] = mapped_column(Date)
    reviewed_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessedUpdate(Base):
    """A Telegram update whose effect is committed (issue 17 point 4): the id is
    inserted in the same transaction as the effect, so a redelivered update
    (a webhook retry, a polling restart, two workers) changes nothing twice."""

    __tablename__ = "processed_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SchedulerLease(Base):
    """Who runs the scheduled jobs (issue 17 point 3): one row per job group;
    a process holds it until ``expires_at`` and renews it while alive, so when
    the leader dies another process takes over after the lease runs out."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
