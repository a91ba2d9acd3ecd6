"""`paicha export` — the forms at a desk (命令行导出), for committee clerks and
scripts, from the same database as the bot (``DATABASE_URL``).

``--list`` prints one form a line, its ASCII key first, then its title as in
the seed. ``paicha export FORM --org ORG`` writes the file through the same
``storage.services.exports`` as /export: the same collectors, the same checks,
the same marking, and an audit event (actor 0: the command line).
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.dates import parse_date
from domain.errors import DataCheckFailed, InvalidInput
from reports.catalogue import FORMS, find
from storage.db import create_engine, make_sessionmaker
from storage.migrate import upgrade_async
from storage.models import Campaign, Member, Organisation
from storage.services import exports
from storage.services.access import Actor, Grant, Role
from storage.services.form_data import RenderJob

DESK_ACTOR_ID = 0  # audit events of the command line


def add_export_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="导出登记表、汇总表（--list 列出全部表）")
    p.add_argument("form", nargs="?", help="表的代号或名称（见 --list）")
    p.add_argument("--list", action="store_true", help="列出可导出的表")
    p.add_argument("--org", help="党组织名称或编号（党支部或党委）")
    p.add_argument("--member", help="党员姓名或编号（一人一档、党员基本信息表）")
    p.add_argument("--campaign", help="排查工作名称或编号（默认：进行中的）")
    p.add_argument("--date", help="填表日期（默认：今天）")
    p.add_argument("-o", "--output", help="输出文件（默认：按表名命名，写到当前目录）")


def list_forms() -> str:
    return "\n".join(
        f"{f.key:<22}{f.title}" + ("  [按人]" if f.per_member else "")
        for f in FORMS
        if exports.available(f)
    )


async def run_export(settings: Settings, args: argparse.Namespace) -> tuple[int, str]:
    if args.list:
        return 0, list_forms()
    if not args.form or not (args.org or args.member):
        return (
            2,
            "用法：paicha export FORM --org ORG [--campaign C] [-o FILE]；paicha export --list",
        )
    form = find(args.form)
    if form is None or not exports.available(form):
        return 2, f"没有这张表：{args.form}。运行 paicha export --list 查看。"
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await _export(session, settings, args, form.key)
    finally:
        await engine.dispose()


async def _export(
    session: AsyncSession, settings: Settings, args: argparse.Namespace, key: str
) -> tuple[int, str]:
    now = datetime.now(ZoneInfo(settings.timezone))
    try:
        today = parse_date(args.date, today=now.date()).first_day() if args.date else now.date()
        member_id = await _member(session, args.member, args.org) if args.member else None
        org = await _org(session, args.org) if args.org else None
        if member_id is not None:
            person = await session.get(Member, member_id)
            assert person is not None
            org = await session.get(Organisation, person.branch_id)
        assert org is not None
        campaign_id = await _campaign(session, org, args.campaign) if args.campaign else None
        done = await exports.export_form(
            session,
            _desk_actor(org),
            key,
            org_id=None if member_id else org.id,
            member_id=member_id,
            campaign_id=campaign_id,
            today=today,
            now=now,
            pocket_days=settings.pocket_days,
            run=_here,
            who=f"命令行 {getpass.getuser()}",
        )
    except DataCheckFailed as failed:
        return 1, "数据有误，没有生成：\n" + "\n".join(f"  - {p}" for p in failed.problems)
    except InvalidInput as bad:
        return 2, f"错误：{bad.render()}"
    target = Path(args.output) if args.output else Path(done.filename)
    target.write_bytes(done.content)
    return 0, f"已写入 {target}（{len(done.content):,} 字节）"


async def _here(job: RenderJob) -> bytes:
    # A desk run has the machine to itself: no worker process to start.
    return job.render(*job.args)


def _desk_actor(org: Organisation) -> Actor:
    """The clerk at the machine reads what the database holds for ``org``."""
    committee = org.id if org.kind == "committee" else org.parent_id
    grants = [Grant(Role.COMMITTEE, committee)] if committee is not None else []
    if org.kind == "branch":
        grants.append(Grant(Role.SECRETARY, org.id))
    return Actor(DESK_ACTOR_ID, tuple(grants))


async def _org(session: AsyncSession, name: str) -> Organisation:
    query = select(Organisation).where(Organisation.kind.in_(("branch", "committee")))
    if name.isdigit():
        query = query.where(or_(Organisation.id == int(name), Organisation.name == name))
    else:
        query = query.where(Organisation.name == name.strip())
    found = list(await session.scalars(query))
    if not found:
        raise InvalidInput(
            "没有名为“{name}”的党支部或党委（paicha admin list 可查看）。", name=name
        )
    if len(found) > 1:
        ids = "、".join(f"{o.id}" for o in found)
        raise InvalidInput(
            "有{n}个党组织叫“{name}”，请改用编号：{ids}。", n=len(found), name=name, ids=ids
        )
    return found[0]


async def _member(session: AsyncSession, name: str, org_name: str | None) -> int:
    query = select(Member.id)
    if name.isdigit():
        query = query.where(Member.id == int(name))
    else:
        query = query.where(Member.name == name.strip())
        if org_name:
            query = query.where(Member.branch_id == (await _org(session, org_name)).id)
    found = list(await session.scalars(query))
    if len(found) != 1:
        raise InvalidInput(
            "找到{n}名党员“{name}”：请用 --org 限定党支部，或改用编号。", n=len(found), name=name
        )
    return found[0]


async def _campaign(session: AsyncSession, org: Organisation, name: str) -> int:
    committee = org.id if org.kind == "committee" else org.parent_id
    query = select(Campaign.id).where(Campaign.committee_id == committee)
    query = query.where(
        or_(Campaign.id == int(name), Campaign.name == name)
        if name.isdigit()
        else Campaign.name == name
    )
    found = await session.scalar(query)
    if found is None:
        raise InvalidInput("这个党委没有排查工作“{name}”。", name=name)
    return found
