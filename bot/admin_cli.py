"""`paicha admin` — the desk tools for the first admin (管理命令): create
committees and branches, list them, print an invitation. ``--json`` gives
machine-readable output for scripts."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bot.settings import Settings
from domain.clock import Clock
from domain.errors import InvalidInput
from storage.db import create_engine, make_sessionmaker
from storage.migrate import upgrade_async
from storage.services import invitations, orgs

ROLE_FOR_KIND = {"committee": "committee", "branch": "secretary"}


@dataclass
class AdminResult:
    text: str
    data: Any = field(default=None)
    code: int = 0


def add_admin_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = sub.add_parser("admin", help="管理：建立党委、党支部，生成邀请码")
    admin.add_argument("--json", action="store_true", help="输出 JSON，供脚本使用")
    verbs = admin.add_subparsers(dest="verb", required=True)
    for kind, help_text in (
        ("upper", "建立上级党委"),
        ("committee", "建立基层党委/党总支"),
        ("branch", "建立党支部"),
    ):
        p = verbs.add_parser(f"add-{kind}", help=help_text)
        p.add_argument("name")
        if kind != "upper":
            p.add_argument("--parent", type=int, required=kind == "branch", help="上级组织编号")
    verbs.add_parser("list", help="列出全部组织")
    inv = verbs.add_parser("invite", help="生成邀请码（党委工作人员或支部书记）")
    inv.add_argument("org_id", type=int)
    inv.add_argument("--days", type=int, default=None)


async def run_admin(settings: Settings, args: argparse.Namespace) -> AdminResult:
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            try:
                return await _dispatch(session, settings, args)
            except InvalidInput as exc:
                return AdminResult(f"错误：{exc.render()}", {"error": exc.render()}, code=1)
    finally:
        await engine.dispose()


async def _dispatch(session, settings: Settings, args: argparse.Namespace) -> AdminResult:  # type: ignore[no-untyped-def]
    if args.verb.startswith("add-"):
        kind = args.verb[4:]
        org = await orgs.create_org(
            session,
            name=args.name,
            kind=kind,
            parent_id=getattr(args, "parent", None),
            actor_id=None,
        )
        data = {"id": org.id, "name": org.name, "kind": org.kind, "parent_id": org.parent_id}
        return AdminResult(f"已建立 {orgs.KINDS[kind]}：{org.name}（编号 {org.id}）", data)
    if args.verb == "list":
        rows = await orgs.list_orgs(session)
        data = [r.__dict__ for r in rows]
        lines = [_tree_line(r, rows) for r in rows] or ["（还没有组织）"]
        return AdminResult("\n".join(lines), data)
    org_rows = {r.id: r for r in await orgs.list_orgs(session)}
    org = org_rows.get(args.org_id)
    if org is None or org.kind not in ROLE_FOR_KIND:
        return AdminResult(
            "错误：只能为基层党委/党总支或党支部生成邀请码。", {"error": "bad org"}, 1
        )
    clock = Clock(ZoneInfo(settings.timezone))
    invitation = await invitations.create_invitation(
        session,
        actor=None,
        org_id=org.id,
        role=ROLE_FOR_KIND[org.kind],
        now=clock.now(),
        days=args.days or settings.invitation_days,
    )
    data = {
        "code": invitation.code,
        "org_id": org.id,
        "role": invitation.role,
        "expires_at": invitation.expires_at.isoformat(),
    }
    text = (
        f"邀请码：{invitation.code}（{org.name}，{'党委工作人员' if org.kind == 'committee' else '支部书记'}）\n"
        f"有效期至：{invitation.expires_at:%Y-%m-%d %H:%M} UTC，只能使用一次。\n"
        f"请对方私聊机器人发送：/join {invitation.code}"
    )
    return AdminResult(text, data)


def _tree_line(row: orgs.OrgRow, rows: list[orgs.OrgRow]) -> str:
    depth, parent = 0, row.parent_id
    by_id = {r.id: r for r in rows}
    while parent is not None and parent in by_id:
        depth += 1
        parent = by_id[parent].parent_id
    count = f"，党员 {row.members} 人" if row.kind == "branch" else ""
    return f"{'  ' * depth}[{row.id}] {row.name}（{orgs.KINDS[row.kind]}{count}）"
