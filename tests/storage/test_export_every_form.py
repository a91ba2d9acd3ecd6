"""Every form the catalogue offers, built from the sandbox's demo data (a
search to the end, a member reached, a mobile and a pocket member: issue 15): each opens in
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
from reports.builder import MARKING
from reports.catalogue import FORMS
from storage.models import AuditEvent, Member, Organisation
from storage.services import exports
from storage.services.access import Actor, Grant, Role
from storage.services.form_data import RenderJob

TODAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
USER = 900


async def _inline(job: RenderJob) -> bytes:
    return job.render(*job.args)


@pytest.fixture
async def demo(session):
    await seed_demo(session, USER, TODAY)
    people = {m.name: m.id for m in await session.scalars(select(Member))}
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
    """Each file opens, and each carries 内部资料 注意保密 and who exported it
    when, in its properties and on every printed page; each export is an
    audit event (issue 18 §6, R-CONFIDENTIAL)."""
    actor, orgs, people = demo
    files = await _every_file(session, actor, orgs, people)
    assert files, "no form has a collector yet"
    stamp = await exports.stamp(session, actor, NOW)
    assert "2026-12-04 02:00" in stamp
    for name, content in files.items():
        if name.endswith(".xlsx"):
            book = openpyxl.load_workbook(io.BytesIO(content))
            assert book.properties.subject == MARKING, name
            assert book.properties.creator == stamp and stamp in book.properties.description
            for sheet in book.worksheets:
                assert sheet.oddHeader.right.text == MARKING, (name, sheet.title)
                assert sheet.oddFooter.right.text == stamp, (name, sheet.title)
            calamine = CalamineWorkbook.from_filelike(io.BytesIO(content))
            first = calamine.get_sheet_by_index(0).to_python()
            assert first and any(str(c).strip() for c in first[0]), name
        else:
            import docx

            document = docx.Document(io.BytesIO(content))
            assert document.paragraphs, name
            assert document.core_properties.author == stamp, name
            assert MARKING in document.core_properties.comments, name
            footer = "".join(p.text for p in document.sections[0].footer.paragraphs)
            assert stamp in footer, name
    logged = list(
        await session.scalars(select(AuditEvent.new_value).where(AuditEvent.action == "export"))
    )
    assert sorted(logged) == sorted(files), "every export is an audit event, by file name"


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
