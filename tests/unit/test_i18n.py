"""Translations (中文优先, English second): every string marked in the code has
an English translation, the translations keep the msgid's placeholders and
HTML tags, and the catalogues compile and load.

The strings are extracted here with babel's Python API, with the same mapping
(babel.cfg) and keywords as ``scripts/update_catalogues.sh``. A failure that
lists missing msgids means: run the script, then translate the new entries
in bot/locales/en/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import ast
import re
import shutil
import string
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR, SUPPORTED, compile_catalogues

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "update_catalogues.sh"
MAPPING = ROOT / "babel.cfg"
EN_PO = LOCALES_DIR / "en" / "LC_MESSAGES" / f"{DOMAIN}.po"

# _ / gettext, __ / lazy_gettext (aiogram.utils.i18n), N_ (domain.errors):
# the first argument is the msgid.
KEYWORDS: dict[str, None] = dict.fromkeys(("_", "__", "N_", "gettext", "lazy_gettext"))

TAG = re.compile(r"</?[A-Za-z][^<>]*>")
ENTITY = re.compile(r"&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")


@cache
def extracted() -> dict[str, tuple[str, ...]]:
    """msgid → where it occurs ("path:line"), as the script would extract it."""
    with MAPPING.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename=str(MAPPING))
    found: dict[str, list[str]] = {}
    for path, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, []).append(f"{path}:{lineno}")
    return {msgid: tuple(where) for msgid, where in found.items()}


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


@cache
def english() -> Catalog:
    return read_catalogue(EN_PO)


def placeholders(text: str) -> Counter[str]:
    """{name} fields as str.format sees them; raises on a stray brace."""
    return Counter(
        field for _lit, field, _spec, _conv in string.Formatter().parse(text) if field is not None
    )


def tags(text: str) -> Counter[str]:
    return Counter(TAG.findall(text))


def translated() -> list[tuple[str, str]]:
    return [(m.id, m.string) for m in english() if m.id and isinstance(m.id, str) and m.string]


# --- extraction -------------------------------------------------------------


def test_extraction_uses_the_keywords_of_the_update_script():
    script = SCRIPT.read_text(encoding="utf-8")
    assert set(re.findall(r"--keyword=(\S+)", script)) == set(KEYWORDS)
    assert "--mapping-file=babel.cfg" in script


def test_extraction_finds_strings_in_every_part_of_the_bot():
    folders = {where.split("/")[0] for places in extracted().values() for where in places}
    assert {"bot", "handlers", "domain", "storage"} <= folders
    assert not folders & {"tests", "emulator", ".venv"}


def keyword_calls() -> list[tuple[str, ast.expr]]:
    """("path:line", first argument) of every _() / __() / N_() … call."""
    calls = []
    for folder in ("bot", "handlers", "domain", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and node.args:
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    if name in KEYWORDS:
                        calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0]))
    return calls


def test_every_literal_msgid_is_extracted_as_python_reads_it():
    """Adjacent literals ("…\n" "…") inside one _() are one msgid at run time;
    the extraction must produce that same msgid."""
    literals = {
        (where, arg.value)
        for where, arg in keyword_calls()
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }
    assert any("\n" in msgid for _where, msgid in literals)
    lost = [
        f"  {where}: {msgid!r}" for where, msgid in sorted(literals) if msgid not in extracted()
    ]
    assert not lost, "msgids in the code that the extraction misses:\n" + "\n".join(lost)


def test_no_msgid_is_built_at_run_time():
    """An f-string, .format() or "+" inside _() is never extracted (or never
    found in the catalogue): format *after* translating."""
    bad = [
        where
        for where, arg in keyword_calls()
        if isinstance(arg, ast.JoinedStr | ast.BinOp)
        or (isinstance(arg, ast.Call) and getattr(arg.func, "attr", None) == "format")
    ]
    assert not bad, "msgid built at run time (translate first, then .format):\n" + "\n".join(bad)


# --- English catalogue ------------------------------------------------------


def test_every_extracted_msgid_has_an_english_translation():
    catalogue = english()
    missing = []
    for msgid, where in sorted(extracted().items(), key=lambda item: item[1]):
        message = catalogue.get(msgid)
        if message is None or not message.string or message.fuzzy:
            state = "absent" if message is None else "fuzzy" if message.fuzzy else "empty"
            missing.append(f"  {where[0]} ({state}): {msgid!r}")
    assert not missing, (
        f"{len(missing)} msgid(s) without an English translation; run "
        "scripts/update_catalogues.sh and translate them in "
        f"{EN_PO.relative_to(ROOT)}:\n" + "\n".join(missing)
    )


@pytest.mark.parametrize("locale", SUPPORTED)
def test_catalogues_have_no_fuzzy_entries(locale):
    catalogue = read_catalogue(LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po")
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries in {locale}: {fuzzy}"
    assert not catalogue.obsolete, f"obsolete entries in {locale}: {list(catalogue.obsolete)}"


def test_zh_catalogue_is_the_identity():
    catalogue = read_catalogue(LOCALES_DIR / "zh" / "LC_MESSAGES" / f"{DOMAIN}.po")
    changed = [m.id for m in catalogue if m.id and m.string and m.string != m.id]
    assert not changed, f"zh msgstr differs from its msgid (edit the code instead): {changed}"


def test_translations_keep_the_placeholders():
    wrong = []
    for msgid, text in translated():
        try:
            same = placeholders(text) == placeholders(msgid)
        except ValueError as exc:
            same = False
            text = f"{text}  [{exc}]"
        if not same:
            wrong.append(f"  {msgid!r}\n    → {text!r}")
    assert not wrong, "placeholders differ from the msgid:\n" + "\n".join(wrong)


def test_translations_format_with_the_msgids_fields():
    for msgid, text in translated():
        fields = {name: "X" for name in placeholders(msgid)}
        text.format(**fields)


def test_translations_keep_the_html_tags():
    wrong = [
        f"  {msgid!r}\n    → {text!r}" for msgid, text in translated() if tags(text) != tags(msgid)
    ]
    assert not wrong, "HTML tags differ from the msgid:\n" + "\n".join(wrong)


def test_translations_add_no_raw_html_characters():
    """Messages go out with parse_mode=HTML: a stray < or & breaks the send."""
    wrong = []
    for msgid, text in translated():
        bare = ENTITY.sub("", TAG.sub("", text))
        bare_msgid = ENTITY.sub("", TAG.sub("", msgid))
        for char in "<>&":
            if bare.count(char) > bare_msgid.count(char):
                wrong.append(f"  {char!r} in {text!r}")
    assert not wrong, "translation adds raw HTML characters:\n" + "\n".join(wrong)


def test_translations_keep_the_line_breaks():
    wrong = [
        f"  {msgid!r} → {text!r}"
        for msgid, text in translated()
        if msgid.count("\n") != text.count("\n")
    ]
    assert not wrong, "translation changes the line breaks:\n" + "\n".join(wrong)


# --- compiled catalogues ----------------------------------------------------


@pytest.fixture
def compiled(tmp_path: Path) -> Path:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, locales, ignore=shutil.ignore_patterns("*.mo"))
    compile_catalogues(locales)
    for locale in SUPPORTED:
        assert (locales / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()
    return locales


def test_compiled_catalogues_give_english_for_en(compiled):
    i18n = I18n(path=compiled, default_locale="zh", domain=DOMAIN)
    assert set(SUPPORTED) <= set(i18n.available_locales)
    pairs = translated()
    assert pairs
    for msgid, text in pairs:
        assert i18n.gettext(msgid, locale="en") == text
        assert i18n.gettext(msgid, locale="zh") == msgid
        assert i18n.gettext(msgid) == msgid  # the default locale
    assert i18n.gettext("帮助", locale="en") == "Help"


def test_lazy_strings_follow_the_current_locale(compiled):
    i18n = I18n(path=compiled, default_locale="zh", domain=DOMAIN)
    msgid, text = translated()[0]
    lazy = i18n.lazy_gettext(msgid)
    with i18n.context():
        with i18n.use_locale("en"):
            assert str(lazy) == text
        with i18n.use_locale("zh"):
            assert str(lazy) == msgid


def test_rendered_error_is_english(compiled):
    from domain.errors import InvalidInput

    i18n = I18n(path=compiled, default_locale="zh", domain=DOMAIN)
    msgid, text = next((m, t) for m, t in translated() if placeholders(m))
    params = {name: 7 for name in placeholders(msgid)}
    error = InvalidInput(msgid, **params)
    with i18n.context(), i18n.use_locale("en"):
        assert error.render(i18n.gettext) == text.format(**params)
    assert error.render() == msgid.format(**params)
