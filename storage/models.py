"""SQLAlchemy 2 models (数据模型). Schema changes go through Alembic.

Members' partial dates (出生年月, 入党时间 …) are stored as ISO text
("2016-03" or "2016-03-18") so that month-only values keep their precision and
still sort; clock dates (组织生活, 党费, 介绍信) are real DATE columns.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
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
    residence: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    last_org_life: Mapped[date | None] = mapped_column(Date)
    last_dues: Mapped[date | None] = mapped_column(Date)
    remarks: Mapped[str | None] = mapped_column(String(200))
    transfer_letter_date: Mapped[date | None] = mapped_column(Date)
    transfer_receiver: Mapped[str | None] = mapped_column(String(100))
    transfer_receipt_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    branch: Mapped[Organisation] = relationship(lazy="raise")


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
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))

    __table_args__ = (
        Index("ix_audit_event_member", "member_id", "id"),
        Index("ix_audit_event_entity", "entity", "entity_id"),
    )


class FsmRecord(Base):
    """aiogram FSM state and data for one conversation (会话状态), so that a
    secretary half-way through /add continues after a restart."""

    __tablename__ = "fsm_record"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
