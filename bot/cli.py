"""`paicha` — run | sandbox | scheduler | admin | export | db | backup | restore |
migrate-data | rotate-key (命令行)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from bot.settings import Settings

NO_TOKEN = """没有设置 BOT_TOKEN，无法连接 Telegram。
  1. 在 Telegram 中找 @BotFather，发送 /newbot，按提示取得令牌；
  2. 写入 .env 文件：BOT_TOKEN=123456:ABC...（参见 .env.example）；
  3. 再运行 paicha run。
想先离线试用？运行 paicha sandbox ——本机模拟 Telegram，不需要令牌。
(No BOT_TOKEN: get one from @BotFather, or try `paicha sandbox` offline.)"""


def _run(settings: Settings, webhook: bool = False) -> int:
    if not settings.bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.runner import assemble, freeze_startup_heap
    from bot.webhook import webhook_problem

    if webhook and (problem := webhook_problem(settings)):
        print(problem, file=sys.stderr)
        return 2

    async def main() -> None:
        app = await assemble(settings)
        freeze_startup_heap()
        try:
            if webhook:
                await app.serve_webhook(handle_signals=True)
            else:
                await app.poll()
        finally:
            await app.close()

    from bot.crypto_cli import KeyProblem

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except KeyProblem as problem:  # no data key, or the wrong one: never show ciphertext
        print(problem, file=sys.stderr)
        return 2
    return 0


def _scheduler(settings: Settings) -> int:
    """Reminders and the daily digest alone, no polling: for deployments with
    several bot processes (run those with SCHEDULER_ENABLED=false). Safe to
    run twice: the ledger sends every message once."""
    if not settings.bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    import signal

    from bot.runner import assemble, freeze_startup_heap

    async def main() -> None:
        app = await assemble(settings, scheduler=True)
        assert app.scheduler is not None
        freeze_startup_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not on this platform
                pass
        try:
            app.scheduler.start()
            await stop.wait()
        finally:
            await app.close()  # finishes and confirms the message being sent

    from bot.crypto_cli import KeyProblem

    try:
        asyncio.run(main())
    except KeyProblem as problem:
        print(problem, file=sys.stderr)
        return 2
    return 0


def _sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.sandbox import run_sandbox

    Path(args.dir).mkdir(parents=True, exist_ok=True)

    return asyncio.run(run_sandbox(settings, data_dir=args.dir, script=args.script))


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print("数据库已升级到最新版本。")
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.export_cli import run_export

    code, text = asyncio.run(run_export(settings, args))
    print(text, file=sys.stderr if code else sys.stdout)
    return code


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from bot.backup_cli import run_backup_command

    return run_backup_command(settings, args)


def _rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    from bot.crypto_cli import run_rotate

    code, text = asyncio.run(run_rotate(settings, args))
    print(text, file=sys.stderr if code else sys.stdout)
    return code


def _with_key(settings: Settings) -> int:
    """The data keyring for a command that reads or writes personal data
    (storage/crypto.py); 2 with the reason when there is none to use."""
    from bot.crypto_cli import KeyProblem, install_for_cli

    try:
        install_for_cli(settings)
    except KeyProblem as problem:
        print(problem, file=sys.stderr)
        return 2
    return 0


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    from bot.admin_cli import run_admin

    result = asyncio.run(run_admin(settings, args))
    if args.json:
        print(json.dumps(result.data, ensure_ascii=False, indent=2, default=str))
    else:
        print(result.text)
    return result.code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paicha", description="排查 — 党员组织关系集中排查助手")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="连接 Telegram 开始运行（默认长轮询）")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="以 webhook 方式运行（需 WEBHOOK_URL，见 .env.example）",
    )
    sub.add_parser("scheduler", help="只运行定时提醒（不接收消息；多个机器人进程时单独运行）")
    sandbox = sub.add_parser("sandbox", help="离线试用：本机模拟 Telegram，在终端里聊天")
    sandbox.add_argument("--dir", default="./sandbox-files", help="机器人发来的文件保存到这里")
    sandbox.add_argument("--script", help="从文件逐行读取输入（培训演示用）")
    db = sub.add_parser("db", help="数据库")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="升级数据库结构")
    up.add_argument("revision", nargs="?", default="head")
    from bot.admin_cli import add_admin_parser
    from bot.backup_cli import add_backup_parsers
    from bot.crypto_cli import add_rotate_parser
    from bot.export_cli import add_export_parser

    add_admin_parser(sub)
    add_export_parser(sub)
    add_backup_parsers(sub)
    add_rotate_parser(sub)
    return parser


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _configure_logging(args: argparse.Namespace) -> None:
    """The sandbox's terminal is the chat: its log lines go to a file in the
    sandbox's folder instead of between the bot's messages."""
    if args.command == "sandbox":
        from pathlib import Path

        Path(args.dir).mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(
            Path(args.dir) / "sandbox.log", encoding="utf-8"
        )
    else:
        handler = logging.StreamHandler()
    # Masked (ID numbers, phones, every run of Chinese) and one key=value
    # line per record (bot/logging_setup.py, issue 18 point 3).
    from bot.logging_setup import install as install_logging

    install_logging(handler)
    root = logging.getLogger()
    for old in root.handlers[:]:
        if old.get_name() == "paicha":  # ours from an earlier main() in this process
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    settings = Settings()
    if args.command == "run":
        return _run(settings, webhook=args.webhook)
    if args.command == "scheduler":
        return _scheduler(settings)
    if args.command == "sandbox":
        return _sandbox(settings, args)
    if args.command == "db":
        return _db(settings, args)
    if args.command == "rotate-key":
        return _rotate_key(settings, args)
    # backup and restore copy the file as it is (ciphertext stays ciphertext);
    # the others read or write personal data and need the key.
    if args.command not in ("backup", "restore") and (code := _with_key(settings)):
        return code
    if args.command == "export":
        return _export(settings, args)
    if args.command in ("backup", "restore", "migrate-data"):
        return _backup(settings, args)
    return _admin(settings, args)


if __name__ == "__main__":
    sys.exit(main())
