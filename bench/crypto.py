"""Bench: what encrypting personal data at rest costs (issue 18's proof).

In one run, with encryption off and on, each in a fresh subprocess:
(1) the roster import of ``--rows`` (default 100,000) invented members, as
    bench/import_roster.py times it (``import_roster`` into a fresh SQLite);
(2) the 党员名册 export of as many members, the bot's worker path (read and
    build, ``collect_and_render``), as bench/export.py's ``roster-worker``.
"On" is the bot as it runs: every 身份证号, phone and address (and the
audit values) encrypted with AES-256-GCM, the ID number's HMAC beside it.
"Off" installs ``PlainKeyring``: the same code with values stored as they
are (the type's own small Python call stays in both). The export's database
is seeded in plaintext by SQL and, for "on", encrypted the way the bot's
start encrypts an old database (``bot.crypto_cli.reencrypt``): that figure
is printed too. Each mode runs ``--repeat`` times, alternating; the best
of each is compared. Target: on / off ≤ 1.2. Figures only, never asserts.

    .venv/bin/python bench/crypto.py [--rows 100000] [--repeat 2] [--dir /tmp/paicha-bench]

Measured 2026-12-05, 100,000 members, --repeat 3, on a 2-core machine that
other jobs loaded (load average 5): CPU on/off 1.17 for the import (14.2 s →
16.5 s) and 1.04 for the export (18.1 s → 18.8 s); the wall clock swung
2–3× between identical rounds (import best 23.4 s → 32.6 s, export 30.3 s
→ 24.6 s), so read it on a quiet machine. Encrypting 100,000 plaintext rows
(an old database at the bot's start): 8.0 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _cpu() -> float:
    """This process's CPU seconds, its database thread's included: steadier
    than the wall clock on a machine that others load too."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _keyring(mode: str) -> None:
    from storage import crypto

    ring = crypto.PlainKeyring() if mode == "off" else crypto.Keyring([crypto.new_key()])
    crypto.install(ring)


def child_import(mode: str, path: Path) -> dict[str, Any]:
    import import_roster as roster_bench  # bench/import_roster.py

    _keyring(mode)
    data = path.read_bytes()
    cpu = _cpu()  # includes creating the empty database: milliseconds
    figures = asyncio.run(roster_bench._import(data))
    return {
        "seconds": figures["seconds"],
        "cpu": _cpu() - cpu,
        "created": figures["created"],
        "rss_mb": figures["rss_mb"],
    }


def child_export(mode: str, rows: int, folder: Path) -> dict[str, Any]:
    import export as export_bench  # bench/export.py

    from bot.crypto_cli import reencrypt
    from storage.db import create_engine, make_sessionmaker
    from storage.services.export_worker import collect_and_render

    _keyring(mode)
    db = folder / f"export_{mode}.sqlite3"
    db.unlink(missing_ok=True)
    asyncio.run(export_bench._seed(db, rows, 1, None))
    encrypt_seconds = 0.0
    if mode == "on":

        async def encrypt() -> float:
            engine = create_engine(f"sqlite+aiosqlite:///{db}")
            started = time.perf_counter()
            await reencrypt(make_sessionmaker(engine), legacy_only=True)
            seconds = time.perf_counter() - started
            await engine.dispose()
            return seconds

        encrypt_seconds = asyncio.run(encrypt())
        with open(db, "rb") as raw:  # the bench's own check: no phone in clear
            assert b"13900000001" not in raw.read()
    import storage.services.exports  # noqa: F401  (the worker's imports, untimed)

    ctx = export_bench._context(1, committee=False)
    # Two exports, the faster counted: the bot's worker lives on between
    # exports, so its first one's warm-up is not what a user waits for.
    times, cpus = [], []
    for _ in range(2):
        started, cpu = time.perf_counter(), _cpu()
        content = collect_and_render(f"sqlite+aiosqlite:///{db}", "roster", ctx)
        times.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    db.unlink()
    return {
        "seconds": min(times),
        "cpu": min(cpus),
        "bytes": len(content),
        "encrypt_seconds": encrypt_seconds,
    }


def _spawn(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "paicha-bench")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, mode, *rest = args.child
        if kind == "import":
            result = child_import(mode, Path(rest[0]))
        else:
            result = child_export(mode, int(rest[0]), Path(rest[1]))
        print(json.dumps(result))
        return

    import import_roster as roster_bench

    args.dir.mkdir(parents=True, exist_ok=True)
    roster = args.dir / f"roster_{args.rows}.xlsx"
    if not roster.exists():
        roster_bench.generate(roster, args.rows)
    best: dict[tuple[str, str, str], float] = {}
    encrypt = []
    for round_ in range(args.repeat):
        for mode in ("off", "on"):
            imp = _spawn("import", mode, str(roster))
            if imp["created"] != args.rows:
                print(f"  !! import ({mode}) created {imp['created']} of {args.rows}")
            exp = _spawn("export", mode, str(args.rows), str(args.dir))
            if mode == "on":
                encrypt.append(exp["encrypt_seconds"])
            print(
                f"round {round_ + 1} encryption {mode:>3}: import {imp['seconds']:6.2f} s "
                f"(CPU {imp['cpu']:6.2f} s), 党员名册 export {exp['seconds']:6.2f} s "
                f"(CPU {exp['cpu']:6.2f} s)",
                flush=True,
            )
            for what, figures in (("import", imp), ("export", exp)):
                for clock in ("seconds", "cpu"):
                    key = (what, mode, clock)
                    best[key] = min(best.get(key, figures[clock]), figures[clock])
    print(f"\n{args.rows:,} members, best of {args.repeat} (wall clock; CPU of the process):")
    print(
        f"{'':<18} {'off s':>8} {'on s':>8} {'on/off':>7} {'off CPU':>8} {'on CPU':>8} {'on/off':>7}"
    )
    for what, label in (("import", "roster import"), ("export", "党员名册 export")):
        off, on = best[(what, "off", "seconds")], best[(what, "on", "seconds")]
        cpu_off, cpu_on = best[(what, "off", "cpu")], best[(what, "on", "cpu")]
        print(
            f"{label:<18} {off:>8.2f} {on:>8.2f} {on / off:>7.2f} "
            f"{cpu_off:>8.2f} {cpu_on:>8.2f} {cpu_on / cpu_off:>7.2f}"
        )
    print(
        f"encrypting the same rows left in plaintext (the bot's start on an old "
        f"database): {min(encrypt):.2f} s"
    )


if __name__ == "__main__":
    main()
