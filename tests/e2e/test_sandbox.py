"""`paicha sandbox` runs the real bot offline with demo data (issue 2, item 2)."""

from __future__ import annotations

from bot.cli import main


def test_sandbox_script_lists_the_demo_branch(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "script.txt"
    script.write_text("/help\n/members\n1\n/quit\n", encoding="utf-8")
    assert main(["sandbox", "--dir", str(tmp_path / "files"), "--script", str(script)]) == 0
    out = capsys.readouterr().out
    assert "/members" in out and "第一党支部 党员名册" in out
    assert "[1] 1" in out  # buttons are shown numbered
    # The sandbox keeps its own database beside its files, not ./data.
    assert (tmp_path / "files" / "sandbox.sqlite3").exists() and not (tmp_path / "data").exists()


def test_run_without_token_explains_how_to_get_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "@BotFather" in err and "paicha sandbox" in err
