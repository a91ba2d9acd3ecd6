"""The sandbox demonstration walk (issue 13): `paicha sandbox --script` with the
checked-in tests/sandbox/walk.txt, read as a new user would read it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.cli import main

WALK = Path(__file__).with_name("walk.txt")


def _answers(out: str) -> dict[str, str]:
    """What the bot printed after each typed line, by that line."""
    answers: dict[str, str] = {}
    for chunk in out.split("你> ")[1:]:
        typed, _newline, shown = chunk.partition("\n")
        answers[typed] = answers.get(typed, "") + shown
    return answers


def test_the_walk_shows_the_right_answers(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "sandbox"
    assert main(["sandbox", "--dir", str(folder), "--script", str(WALK)]) == 0
    answers = _answers(capsys.readouterr().out)

    # /add, then /lost at the first question: the flow is left and /lost runs.
    assert "请输入“姓名”" in answers["/add"]
    assert "已退出“登记党员”" in answers["/lost"] and "请选择党支部" in answers["/lost"]
    # /members is the register, not the ID-number question of a half-typed member.
    assert "请选择党支部" in answers["/members"] and "身份证号" not in answers["/members"]
    # /log in five taps; a phone number is typed as text, not taken as button 13900001234.
    assert "已保存" in answers["13900001234"] and "无法按下" not in answers["13900001234"]
    # After saving, /deadlines answers (the evidence wait ended quietly).
    assert "截止时间" in answers["/deadlines"] and "还有6天" in answers["/deadlines"]
    assert "没有看懂" not in answers["/deadlines"]
    # The demo user is staff and secretary: /sweep offers both views.
    assert "逐人五核查" in answers["/sweep"] and "按人员类别统计" in answers["/sweep"]
    # Moving the demo clock runs the scheduler at once: the daily digest names the
    # member newly lost (R-LOST-6M); two days on, the committee is reminded of the
    # report due in two days (R-REMIND: the 3-day reminder, never sent before).
    moved = answers["/clock +2d 09:00"]
    assert "每日提醒 · 第一党支部" in moved and "吴示六" in moved
    assert "报送提醒" in answers["/clock +2d"] and "还有2天" in answers["/clock +2d"]

    with sqlite3.connect(folder / "sandbox.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM member WHERE name LIKE '/%'").fetchone() == (0,)
        notes = [
            n for (n,) in db.execute("SELECT note FROM contact_attempt WHERE note IS NOT NULL")
        ]
    assert notes == ["13900001234"]
    # Log lines go to a file in the sandbox's folder; the chat is kept beside it.
    assert (folder / "sandbox.log").exists() and "你> /add" in (folder / "chat.txt").read_text(
        encoding="utf-8"
    )


def test_a_second_run_carries_on_in_the_same_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "sandbox"
    first = tmp_path / "first.txt"
    first.write_text("/add\n示例名\n/quit\n", encoding="utf-8")
    assert main(["sandbox", "--dir", str(folder), "--script", str(first)]) == 0
    second = tmp_path / "second.txt"
    second.write_text("/cancel\n/quit\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["sandbox", "--dir", str(folder), "--script", str(second)]) == 0
    out = capsys.readouterr().out
    # The half-typed /add survived the restart (the conversation is in the folder).
    assert "接着上次继续" in out and "已取消。" in out
