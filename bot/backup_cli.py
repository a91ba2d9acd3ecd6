"""`paicha backup`, `paicha restore FILE`, `paicha migrate-data --to URL` —
the copies of the database at a desk (备份、恢复、迁移), from ``DATABASE_URL``.

The work is ``storage.backup``'s; here the answers are worded, in Chinese,
as the other desk commands (``bot/export_cli.py``): not through the chat's
catalogues. A refusal says what to do and that nothing was changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.settings import Settings
from storage import backup as store
from storage.backup import Refused

UNCHANGED = "未做任何更改。"

PG_TOOLS = """PostgreSQL 数据库用 PostgreSQL 自带的 pg_dump 备份、pg_restore 恢复，本机没有找到 {tool}。
  Debian/Ubuntu：sudo apt-get install postgresql-client（版本不能低于数据库服务器）；
  装好后再运行 paicha {command}。
也可以手工运行（密码放在环境变量里，不要写在命令行上）：
  PGPASSWORD=… pg_dump --format=custom -h 主机 -p 端口 -U 用户 -f 备份文件.dump 数据库名
  PGPASSWORD=… pg_restore --clean --if-exists --no-owner --single-transaction -h 主机 -U 用户 -d 数据库名 备份文件.dump"""


def add_backup_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("backup", help="备份数据库（机器人运行时也可以；含个人信息，注意保密）")
    p.add_argument(
        "-o",
        "--output",
        help="备份文件或文件夹（默认：数据库旁的 backups/，文件名带时间）",
    )
    p = sub.add_parser("restore", help="用备份文件恢复数据库（先停止机器人）")
    p.add_argument("file", help="paicha backup 写出的备份文件")
    p.add_argument("--yes", action="store_true", help="不再询问，直接恢复")
    p = sub.add_parser("migrate-data", help="把 SQLite 数据库的全部数据复制到 PostgreSQL")
    p.add_argument("--to", required=True, metavar="URL", help="目标数据库地址（须为空库）")
    p.add_argument("--batch", type=int, default=store.BATCH, help="每批行数（默认 1000）")


def run_backup_command(settings: Settings, args: argparse.Namespace) -> int:
    commands = {"backup": _backup, "restore": _restore, "migrate-data": _migrate_data}
    try:
        return commands[args.command](settings, args)
    except Refused as refused:
        print(refusal(refused, args.command), file=sys.stderr)
        return 1


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _folder(settings: Settings) -> Path:
    return settings.data_dir / "backups"


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else None
    done = store.backup(settings.database_url, output, _folder(settings))
    info = done.info
    print(f"已备份到 {info.path}（{info.size:,} 字节，用时 {done.seconds:.3f} 秒）")
    if info.counts:
        print(f"完整性检查通过；数据库版本 {info.revision}。")
        print(table_of_counts(info.counts))
    else:
        print(
            f"pg_restore 通读检查通过；数据库版本 {info.revision}，"
            f"含 {len(info.tables)} 张表的数据。"
        )
    print("备份含党员个人信息，请妥善保管（文件仅所有者可读）。")
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    url = settings.database_url
    info = store.inspect(url, Path(args.file))
    rows = f"，共 {sum(info.counts.values()):,} 行" if info.counts else ""
    print(
        f"备份文件 {info.path}：检查通过（{info.size:,} 字节，数据库版本 {info.revision}{rows}）。"
    )
    store.check_stopped(url)
    if not args.yes:
        now = store.counts(url)
        current = f"（现有 {sum(now.values()):,} 行）" if now else "（现在是空的）"
        print(f"将用这个备份覆盖数据库 {_shown(url)}{current}；现有数据会先另存一份。")
        try:
            answer = input("确认恢复请输入 yes：").strip().lower()
        except EOFError:
            answer = ""
        if answer not in ("yes", "y", "是"):
            print("已取消。" + UNCHANGED)
            return 1
    done = store.restore(url, Path(args.file), _folder(settings))
    print(f"已恢复（用时 {done.seconds:.3f} 秒），并已升级到本程序的数据库版本。")
    if done.kept is not None:
        print(f"恢复前的数据另存为 {done.kept}。")
    print(table_of_counts(done.counts))
    return 0


def _migrate_data(settings: Settings, args: argparse.Namespace) -> int:
    source, target = settings.database_url, args.to
    print(f"正在把 {_shown(source)} 的全部数据复制到 {_shown(target)} …")
    copies = store.migrate_data(source, target, batch=args.batch)
    width = max(len(c.table) for c in copies) + 2
    lines = [f"{'表':<{width - 1}}{'源':>10}{'目标':>9}"]
    lines += [
        f"{c.table:<{width}}{c.source:>10,}{c.target:>10,}  {'✓' if c.ok else '✗ 不一致'}"
        for c in copies
    ]
    total = sum(c.source for c in copies)
    lines.append(f"{'合计':<{width - 2}}{total:>10,}{sum(c.target for c in copies):>10,}")
    print("\n".join(lines))
    if not all(c.ok for c in copies):
        print("有表的行数不一致，请勿切换到目标数据库。", file=sys.stderr)
        return 1
    print(
        f"全部 {len(copies)} 张表的行数一致（共 {total:,} 行），序列已重置。"
        "把 DATABASE_URL 改为目标地址后再启动机器人。"
    )
    return 0


def table_of_counts(counts: dict[str, int]) -> str:
    width = max((len(name) for name in counts), default=4) + 2
    lines = [f"{'表':<{width - 1}}{'行数':>8}"]
    lines += [f"{name:<{width}}{n:>10,}" for name, n in counts.items()]
    lines.append(f"{'合计':<{width - 2}}{sum(counts.values()):>10,}")
    return "\n".join(lines)


def refusal(refused: Refused, command: str) -> str:
    d = refused.details
    reason = refused.reason
    if reason == "not_found":
        return f"找不到 {d.get('path')}。" + UNCHANGED
    if reason == "not_database":
        return f"{d['path']} 不是 SQLite 数据库文件，不能用来恢复。" + UNCHANGED
    if reason == "corrupt":
        problems = "\n".join(f"  - {p}" for p in d["problems"][:10])
        if command == "backup":
            return f"备份失败：副本没有通过完整性检查，已删除：\n{problems}"
        return f"备份文件已损坏（完整性检查没有通过），不能用来恢复：\n{problems}\n" + UNCHANGED
    if reason == "no_version":
        return "这个文件不是排查机器人的数据库（没有数据库版本记录），不能用来恢复。" + UNCHANGED
    if reason == "newer":
        return (
            f"这个备份来自更新版本的排查程序（备份的数据库版本 {d['revision']}，"
            f"本程序最高 {d['head']}），请先升级程序再恢复。" + UNCHANGED
        )
    if reason == "busy":
        return (
            "数据库正被其他进程使用（机器人、定时提醒或另一个 paicha 命令还在运行）。"
            "请先停止它们（例如 systemctl stop paicha），再运行 paicha "
            f"{command}。" + UNCHANGED
        )
    if reason == "no_tool":
        return PG_TOOLS.format(tool=d["tool"], command=command)
    if reason == "tool_failed":
        return f"{d['tool']} 运行失败：\n{d['detail']}"
    if reason == "not_dump":
        return (
            f"{d['path']} 不是可读的 pg_dump 备份（须为 --format=custom），或已损坏："
            f"\n{d['detail']}\n" + UNCHANGED
        )
    if reason == "not_sqlite":
        return (
            f"paicha migrate-data 只从 SQLite 数据库复制，当前 DATABASE_URL 是 {d['url']}。"
            + UNCHANGED
        )
    if reason == "same_database":
        if command == "migrate-data":
            return "目标就是当前的数据库文件。" + UNCHANGED
        return "备份文件和数据库是同一个文件。" + UNCHANGED
    if reason == "not_empty":
        rows = "\n".join(f"  {name}：{n:,} 行" for name, n in d["counts"].items())
        return "目标数据库不是空的，为免重复或覆盖，没有复制：\n" + rows + "\n" + UNCHANGED
    if reason == "migrate_failed":
        return f"升级数据库结构失败：{d['detail']}"
    if reason == "copy_failed":
        return (
            f"复制表 {d['table']} 时出错，整个复制已撤销，目标数据库里没有写入数据：\n"
            f"  {d['detail']}"
        )
    return f"未完成（{reason}）。" + UNCHANGED
