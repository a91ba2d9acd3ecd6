"""Every form the catalogue offers, built from the sandbox's demo data with a
search, a mobile member and a pocket member added (issue 15): each opens in
openpyxl and python-calamine (.xlsx) or python-docx (.docx), none fails its
checks on consistent records, and LibreOffice (Debian's package, headless)
converts every file to PDF without error — skipped, with the reason, where
LibreOffice is not installed (.ci/install-office.sh installs it)."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from datetime import UTC, date, datetime

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from bot.demo import COMMITTEE, seed_demo
from reports.catalogue import FORMS
from storage.db import write_tx
from storage.models import ContactAttempt, Member, MobileRecord, Organisation, SearchOutcome
from storage.services import exports
from storage.services.access import Actor, Grant, Role
from storage.services.form_data import RenderJob

TODAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
USER = 900


async def _inline(job: RenderJob) -> bytes:
    return job.render(*job.args)


async def _enrich(session) -> dict[str, int]:
    """孙示三 searched through every channel group and unreachable; 钱示二
    reached; 赵示一 gone to work elsewhere (流出); 周示五 a pocket member."""
    people = {m.name: m for m in await session.scalars(select(Member))}
    async with write_tx(session):
        for n, (channel, group) in enumerate(
            (("phone", 1), ("relative", 2), ("hotline", 3), ("police", 5))
        ):
            session.add(
                ContactAttempt(
                    member_id=people["孙示三"].id,
                    channel=channel,
                    channel_group=group,
                    result="not_reached",
                    attempted_on=date(2026, 11, 2 + n),
                    contact_person="吴示例" if group == 2 else None,
                    recorded_by=USER,
                )
            )
        session.add(
            SearchOutcome(
                member_id=people["孙示三"].id,
                kind="unreachable",
                decided_on=date(2026, 11, 20),
                lost_reason="6",
                occupation="8",
                org_category="8",
                recorded_by=USER,
            )
        )
        session.add(
            SearchOutcome(
                member_id=people["钱示二"].id,
                kind="found",
                decided_on=date(2026, 11, 18),
                lost_reason="1",
                occupation="3",
                org_category="2",
                had_misconduct=False,
                misconduct_check="self",
                attitude="愿意参加组织生活",
                recorded_by=USER,
            )
        )
        session.add(
            MobileRecord(
                member_id=people["赵示一"].id,
                registered_on=date(2026, 11, 10),
                left_on=date(2026, 3, 1),
                destination="示范省示范市",
                region="W",
                direction="3",
                reason="M",
                occupation="5",
                work_unit="示范工程公司",
                unit_has_org=True,
                reported_branch="示范社区党支部",
                reported_contact="冯示例",
                reported_post="书记",
                reported_phone="13900000099",
                recorded_by=USER,
            )
        )
        people["周示五"].transfer_letter_date = date(2026, 1, 5)
        people["周示五"].transfer_receiver = "示范街道党工委"
    return {name: m.id for name, m in people.items()}


@pytest.fixture
async def demo(session):
    await seed_demo(session, USER, TODAY)
    people = await _enrich(session)
    orgs = {o.name: o for o in await session.scalars(select(Organisation))}
    committee = orgs[COMMITTEE]
    actor = Actor(
        USER,
        (Grant(Role.COMMITTEE, committee.id), Grant(Role.SECRETARY, orgs["第一党支部"].id)),
    )
    return actor, orgs, people


async def _every_file(session, actor, orgs, people) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for form in FORMS:
        if not exports.available(form):
            continue
        targets = (
            [{"member_id": people["孙示三"]}]
            if form.per_member
            else [{"org_id": orgs["第一党支部"].id}]
            + ([] if form.key == "branch_report" else [{"org_id": orgs[COMMITTEE].id}])
        )
        for target in targets:
            done = await exports.export_form(
                session,
                actor,
                form.key,
                today=TODAY,
                now=NOW,
                pocket_days=90,
                run=_inline,
                **target,
            )
            files[done.filename] = done.content
    return files


async def test_every_form_builds_on_the_demo_data_and_opens(session, demo):
    actor, orgs, people = demo
    files = await _every_file(session, actor, orgs, people)
    assert files, "no form has a collector yet"
    for name, content in files.items():
        if name.endswith(".xlsx"):
            book = openpyxl.load_workbook(io.BytesIO(content))
            assert book.properties.subject == "内部资料 注意保密", name
            calamine = CalamineWorkbook.from_filelike(io.BytesIO(content))
            first = calamine.get_sheet_by_index(0).to_python()
            assert first and any(str(c).strip() for c in first[0]), name
        else:
            import docx

            document = docx.Document(io.BytesIO(content))
            assert document.paragraphs, name


async def test_libreoffice_converts_every_file_to_pdf(session, demo, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (bash .ci/install-office.sh installs it)")
    actor, orgs, people = demo
    files = await _every_file(session, actor, orgs, people)
    sources = []
    for n, (name, content) in enumerate(sorted(files.items())):
        path = tmp_path / f"{n:02d}{name[name.rfind('.') :]}"
        path.write_bytes(content)
        sources.append(path)
    out = tmp_path / "pdf"
    profile = tmp_path / "lo-profile"
    done = await asyncio.to_thread(
        subprocess.run,
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            *map(str, sources),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for path in sources:
        pdf = out / f"{path.stem}.pdf"
        assert pdf.exists() and pdf.stat().st_size > 1000, (path.name, done.stderr)
