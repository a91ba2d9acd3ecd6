"""Bench (issue 17, Proof): N scripted secretaries (default 500) each log a
search attempt (/log, six steps) through the local Bot API emulator against

  (a) one polling `paicha run` process on SQLite, and
  (b) two `paicha run --webhook` processes on PostgreSQL + Redis behind one
      round-robin address (nginx's upstream in production),

and, in the same harness, the bare aiogram echo bot polling with the same
Sender (the fair baseline: six steps, one reply each). Every bot runs in its
own process (bench/load_worker.py) with the relaxed Sender, so the figures are
the bots' own cost, not Telegram's 30 messages a second. Prints throughput
(steps/s) and p50/p95/p99 latency of each, then the two ratios the issue
sets: (b)/(a) throughput (target ≥ 1.6) and (b)'s p95 / the echo bot's
(target ≤ 3). It never asserts.

    .venv/bin/python bench/load.py [--users 500] [--pg-url URL] [--redis-url URL]

PostgreSQL and Redis default to PAICHA_TEST_PG_URL / PAICHA_TEST_REDIS_URL
(`.ci/start-postgres.sh`, `.ci/start-redis.sh`); without them (b) is skipped.
The harness (emulator, balancer, users) is one process too: on a machine with
few cores it competes with the bots, which the printed CPU count shows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from log_attempts import (  # noqa: E402
    BASELINE_SCRIPT,
    PAICHA_SCRIPT,
    SECRETARY_BASE,
    TOKEN,
    Result,
    drive,
    lag_ms,
    populate,
    table,
)
from sqlalchemy import text  # noqa: E402

from emulator import BotApiEmulator  # noqa: E402
from storage import crypto  # noqa: E402
from storage.db import create_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from tests.conftest import redis_scratch  # noqa: E402
from tests.e2e.test_webhook import free_port  # noqa: E402
from tests.e2e.test_workers import RoundRobin  # noqa: E402

WORKER = ROOT / "bench" / "load_worker.py"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
SECRET = "bench_load_secret-0123456789"
ECHO_BASE = 700_000


class Processes:
    """The bot processes of one scenario, stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = workdir / "bots.log"
        self.reports: list[Path] = []

    def start(self, kind: str, **extra: str) -> None:
        report = self.workdir / f"report-{len(self.procs)}.json"
        self.reports.append(report)
        self.procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), kind],
                cwd=self.workdir,  # no .env here: only the environment configures them
                env={**self.env, **extra, "PAICHA_BENCH_REPORT": str(report)},
                stdout=subprocess.DEVNULL,
                stderr=self.log.open("ab"),
            )
        )

    def begin(self) -> None:
        """The users begin: each bot process measures from now (load_worker)."""
        for proc in self.procs:
            proc.send_signal(signal.SIGUSR1)

    def figures(self) -> tuple[list[float], float, list[float]]:
        """Every bot process's loop lags, their CPU seconds and their garbage
        collector's full passes, once stopped."""
        lags: list[float] = []
        cpu = 0.0
        passes: list[float] = []
        for report in self.reports:
            if not report.exists():
                # Without it the CPU line would count some of the bots only.
                raise SystemExit(
                    f"{report.name}: a bot process wrote no figures:\n"
                    + self.log.read_text(errors="replace")[-3000:]
                )
            data = json.loads(report.read_text())
            lags += data["lags"]
            cpu += data["cpu"]
            passes += data["full_passes"]
        return lags, cpu, passes

    def alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"a bot process exited ({proc.returncode}):\n{tail}")

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s. Waits without blocking the loop:
        a webhook worker drains its updates in flight on SIGTERM, and their
        last API calls need this process's emulator to answer."""
        for proc in self.procs:
            proc.terminate()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        for index, proc in enumerate(self.procs):
            try:
                await asyncio.to_thread(proc.wait, max(0.1, deadline - loop.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait, 5)
                print(f"    bot process {index} did not stop within 15 s: killed", flush=True)


NGINX_CONF = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream workers {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://workers;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 90s;
        }}
    }}
}}
"""


def spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.asynccontextmanager
async def nginx(workdir: Path, backends: list[str]) -> AsyncIterator[SimpleNamespace]:
    """nginx's round-robin upstream in front of the workers, as in production
    (deploy/nginx-paicha.conf, without TLS), in its own process: the
    harness's Python balancer (tests/e2e/test_workers.RoundRobin) costs the
    harness about 1 ms of CPU a step, which the bots then lack."""
    port = free_port()
    conf = workdir / "nginx.conf"
    servers = "\n".join(f"        server {b.removeprefix('http://')};" for b in backends)
    conf.write_text(NGINX_CONF.format(dir=workdir, servers=servers, port=port))
    proc = spawn([str(NGINX), "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"])
    try:
        await asyncio.sleep(0.5)
        if proc.poll() is not None:
            raise SystemExit(f"nginx exited: {(workdir / 'nginx-error.log').read_text()[-1000:]}")
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)


def balancer(args: argparse.Namespace, workdir: Path, backends: list[str]):  # type: ignore[no-untyped-def]
    if args.balancer == "nginx":
        return nginx(workdir, backends)
    return RoundRobin(backends)


async def until(
    check: Callable[[], bool],
    what: str,
    procs: Processes,
    timeout: float = 90,  # noqa: ASYNC109
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        procs.alive()
        if loop.time() > deadline:
            raise SystemExit(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def polling(emulator: BotApiEmulator) -> bool:
    return any(method.lower() == "getupdates" for method, _ in emulator.calls)


async def prepared(url: str, n: int) -> None:
    """Migrated and populated as log_attempts populates (n branches, one
    secretary each, two lost members), before any bot starts."""
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        await populate(SimpleNamespace(sessionmaker=make_sessionmaker(engine)), n)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def pg_database(admin_url: str) -> AsyncIterator[str]:
    name = f"paicha_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def service_cpu() -> dict[str, float]:
    """CPU seconds so far of the PostgreSQL, Redis and nginx processes on this
    machine, by /proc (Linux): what (b) spends outside the bots. A backend
    that ends during the run takes its seconds with it; the bots' pools keep
    theirs open, so that is rare."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds = {"postgres": 0.0, "redis-server": 0.0, "nginx": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        if comm in seconds:
            fields = stat[stat.rindex(")") + 2 :].split()
            seconds[comm] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return seconds


def cpu_now() -> dict[str, float]:
    times = os.times()
    return {"harness": times.user + times.system, **service_cpu()}


async def run(
    name: str,
    n: int,
    script: list,  # type: ignore[type-arg]
    first_id: int,
    emulator: BotApiEmulator,
    args: argparse.Namespace,
    procs: Processes,
) -> Result:
    result = Result(name, n, n * len(script))
    procs.begin()
    loop = asyncio.get_running_loop()
    ids = [first_id + i for i in range(n)]
    before = cpu_now()
    await drive(emulator, result, ids, script, args.step_timeout, loop.time() + args.timeout)
    after = cpu_now()
    result.cpu_others = {name: after[name] - before[name] for name in after}
    return result


def measured(result: Result, procs: Processes) -> Result:
    """The bots' own loop lag and CPU seconds (their processes, not the
    harness's): the table's lag columns and the CPU line."""
    result.harness_lags = result.lags
    result.lags, result.cpu_seconds, result.full_passes = procs.figures()
    return result


def base_env(emulator: BotApiEmulator, workdir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": emulator.base_url,
        "DATABASE_URL": database_url,
        "SCHEDULER_ENABLED": "false",
        "THROTTLE_RATE": "0",  # scripted users are faster than people
        "DATA_DIR": str(workdir / "data"),
        "PYTHONPATH": str(ROOT),
    }


async def echo(args: argparse.Namespace, tmp: Path) -> Result:
    async with BotApiEmulator() as emulator:
        procs = Processes(tmp, base_env(emulator, tmp, "sqlite+aiosqlite:///unused.sqlite3"))
        procs.start("echo-poll")
        try:
            await until(lambda: polling(emulator), "the echo bot polling", procs)
            result = await run(
                "echo bot, 1 process", args.users, BASELINE_SCRIPT, ECHO_BASE, emulator, args, procs
            )
        finally:
            await procs.stop()
        return measured(result, procs)


async def one_polling(args: argparse.Namespace, tmp: Path) -> Result:
    url = f"sqlite+aiosqlite:///{tmp / 'a.sqlite3'}"
    await prepared(url, args.users)
    async with BotApiEmulator() as emulator:
        procs = Processes(tmp, base_env(emulator, tmp, url))
        procs.start("paicha-poll")
        try:
            await until(lambda: polling(emulator), "paicha polling", procs)
            result = await run(
                "(a) 1 polling process, SQLite",
                args.users,
                PAICHA_SCRIPT,
                SECRETARY_BASE,
                emulator,
                args,
                procs,
            )
        finally:
            await procs.stop()
        return measured(result, procs)


async def two_webhooks(args: argparse.Namespace, tmp: Path) -> Result:
    ports = [free_port(), free_port()]
    async with pg_database(args.pg_url) as url:
        await prepared(url, args.users)
        async with (
            redis_scratch(args.redis_url) as (_, prefix),
            BotApiEmulator(webhook_timeout=60, webhook_retry=(0.05, 0.5)) as emulator,
            balancer(args, tmp, [f"http://127.0.0.1:{p}" for p in ports]) as proxy,
        ):
            env = {
                **base_env(emulator, tmp, url),
                "REDIS_URL": args.redis_url,
                "REDIS_PREFIX": prefix,
                "WEBHOOK_URL": proxy.url,
                "WEBHOOK_SECRET": SECRET,
                "WEBHOOK_HOST": "127.0.0.1",
            }
            procs = Processes(tmp, env)
            for port in ports:
                procs.start("paicha-webhook", WEBHOOK_PORT=str(port))
            try:
                await until(lambda: emulator.webhook is not None, "the webhook set", procs)
                await asyncio.sleep(2)  # both workers up (each sets the same webhook)
                procs.alive()
                result = await run(
                    "(b) 2 webhook workers, PG + Redis",
                    args.users,
                    PAICHA_SCRIPT,
                    SECRETARY_BASE,
                    emulator,
                    args,
                    procs,
                )
            finally:
                await procs.stop()
            return measured(result, procs)


def extra(results: list[Result]) -> str:
    lines = []
    for r in results:

        def per_step(seconds: float, r: Result = r) -> float:
            return 1000 * seconds / r.steps if r.steps else float("nan")

        others = r.cpu_others
        total = r.cpu_seconds + sum(others.values())
        lines.append(
            f"{r.name:<38} p99 {r.pct(0.99):8.0f} ms; bots' CPU {r.cpu_seconds:6.1f} s, "
            f"{per_step(r.cpu_seconds):5.2f} ms a step; harness's loop lag p99 "
            f"{lag_ms(r.harness_lags, 0.99):.0f} ms, max {lag_ms(r.harness_lags, 1.0):.0f} ms"
        )
        lines.append(
            "    CPU ms a step: "
            + ", ".join(f"{k} {per_step(v):.2f}" for k, v in others.items())
            + f"; all {per_step(total):.2f} ms, so {os.cpu_count()} CPU(s) allow at most "
            f"{(os.cpu_count() or 1) * 1000 / per_step(total):.0f} steps/s"
        )
        if r.full_passes:
            lines.append(
                f"    garbage collector's full passes: {len(r.full_passes)}, "
                f"longest {1000 * max(r.full_passes):.0f} ms"
            )
        for error, count in r.errors.most_common(3):
            lines.append(f"    {count}× {error}")
    return "\n".join(lines)


def ceiling(r: Result, processes: int, cores: int) -> float:
    """The steps/s the CPU allows, from the CPU this run measured a step:
    each bot process is one event loop (one core at most), and the bots,
    PostgreSQL, Redis, nginx and the harness together share ``cores``."""
    if not r.steps:
        return float("nan")
    bots = 1000 * r.cpu_seconds / r.steps
    everything = bots + 1000 * sum(r.cpu_others.values()) / r.steps
    return min(processes * 1000 / bots, cores * 1000 / everything)


def projection(a: Result, b: Result) -> str:
    """(b)/(a) at the CPU ceiling on this machine and on bigger ones: what the
    target needs is cores, when (b) is already CPU-bound here."""
    ratios = ", ".join(
        f"{cores} cores {ceiling(b, 2, cores) / ceiling(a, 1, cores):.2f}" for cores in (2, 4, 8)
    )
    return f"CPU ceiling (b)/(a), from the CPU a step measured here: {ratios}"


async def main(args: argparse.Namespace) -> int:
    key = crypto.encode_key(crypto.new_key())  # one invented data key for every process
    os.environ["PAICHA_DATA_KEY"] = key
    crypto.install(crypto.Keyring([crypto.decode_key(key)]))
    print(f"{args.users} secretaries, 6 steps each; {os.cpu_count()} CPU(s) for harness and bots")
    print(f"(b)'s balancer: {args.balancer}")
    scenarios: list[Callable[[argparse.Namespace, Path], Awaitable[Result]]] = [echo, one_polling]
    if args.pg_url and args.redis_url:
        scenarios.append(two_webhooks)
    else:
        print(
            "(b) skipped: needs --pg-url and --redis-url (or PAICHA_TEST_PG_URL / PAICHA_TEST_REDIS_URL)"
        )
    results = []
    for scenario in scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            results.append(await scenario(args, Path(tmp)))
            print(
                f"  {results[-1].name}: {time.perf_counter() - started:.0f} s with set-up",
                flush=True,
            )
    baseline = results[0]
    print(table(results, baseline))
    print(extra(results))
    a = results[1]
    if len(results) > 2:
        b = results[2]
        print(
            f"throughput (b)/(a): {b.rate / a.rate if a.rate else float('nan'):.2f} (target ≥ 1.6)"
        )
        print(f"p95 (b)/echo bot:   {b.pct(0.95) / baseline.pct(0.95):.2f} (target ≤ 3)")
        print(projection(a, b))
    print(f"p95 (a)/echo bot:   {a.pct(0.95) / baseline.pct(0.95):.2f}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--pg-url", default=os.environ.get("PAICHA_TEST_PG_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("PAICHA_TEST_REDIS_URL"))
    parser.add_argument(
        "--balancer",
        choices=("nginx", "python"),
        default="nginx" if NGINX else "python",
        help="in front of (b)'s workers: nginx (default where installed) or the harness's own",
    )
    parser.add_argument("--step-timeout", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per scenario")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
