"""Fill empty English msgstrs from a JSON file {msgid: english}.

    .venv/bin/python scripts/fill_translations.py new.json
    .venv/bin/python scripts/fill_translations.py --missing   # print the msgids still empty

Used after scripts/update_catalogues.sh; tests/unit/test_i18n.py names what is left.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "bot/locales/en/LC_MESSAGES/messages.po"


def _load():
    with PO.open("rb") as fh:
        return read_po(fh)


def missing() -> list[str]:
    return [m.id for m in _load() if m.id and not m.string]


def fill(translations: dict[str, str]) -> int:
    catalog = _load()
    filled = 0
    for message in catalog:
        if message.id and not message.string and message.id in translations:
            message.string = translations[message.id]
            filled += 1
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False)
    return filled


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--missing":
        print(json.dumps(missing(), ensure_ascii=False, indent=1))
        return 0
    total = 0
    for name in argv:
        total += fill(json.loads(Path(name).read_text(encoding="utf-8")))
    print(f"filled {total}; still empty {len(missing())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
