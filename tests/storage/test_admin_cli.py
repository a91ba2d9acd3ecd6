"""`paicha admin`: the desk tools, with --json for scripts."""

from __future__ import annotations

import json

import pytest

from bot.cli import main


@pytest.fixture
def desk(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}")
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str]:
        code = main(["admin", *args])
        return code, capsys.readouterr().out

    return run


def test_create_committee_and_branch_list_and_invite_as_json(desk):
    code, out = desk("--json", "add-committee", "示例机关党委")
    committee = json.loads(out)
    assert code == 0 and committee["kind"] == "committee"
    code, out = desk("--json", "add-branch", "第一党支部", "--parent", str(committee["id"]))
    branch = json.loads(out)
    assert branch["parent_id"] == committee["id"]
    code, out = desk("--json", "list")
    assert [o["name"] for o in json.loads(out)] == ["示例机关党委", "第一党支部"]
    code, out = desk("--json", "invite", str(branch["id"]))
    invitation = json.loads(out)
    assert invitation["role"] == "secretary" and len(invitation["code"]) == 10
    code, out = desk("invite", str(committee["id"]))
    assert code == 0 and "/join" in out


def test_bad_requests_are_refused_in_chinese(desk):
    code, out = desk("add-branch", "孤立支部", "--parent", "99")
    assert code == 1 and "不存在" in out
    desk("add-committee", "甲党委")
    code, out = desk("add-committee", "甲党委")
    assert code == 1 and "已有" in out
    code, out = desk("--json", "add-branch", "乙支部", "--parent", "1")
    code, out = desk("add-branch", "丙支部", "--parent", "2")  # a branch under a branch
    assert code == 1 and "上级" in out
