#!/usr/bin/env bash
# Re-extract the translatable strings and merge them into the catalogues.
#
#   scripts/update_catalogues.sh          # extract + update bot/locales/{zh,en}
#   scripts/update_catalogues.sh --check  # fail if the catalogues are out of date
#
# Strings are marked with _() / gettext, __() / lazy_gettext (aiogram.utils.i18n)
# and N_() (domain.errors, translated later at render time). Which files are
# scanned is in babel.cfg. The template (.pot) is written to a temp file and
# not kept; the .po files are committed, the .mo files are built at start by
# bot/i18n.py. After running this, translate the new (empty) entries in
# bot/locales/en/LC_MESSAGES/messages.po; tests/unit/test_i18n.py lists any
# msgid still missing an English translation. zh stays empty (identity).
set -euo pipefail

cd "$(dirname "$0")/.."

PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
if [[ ! -x "$PYBABEL" ]]; then
    PYBABEL="$(command -v pybabel)"
fi

LOCALES_DIR=bot/locales
DOMAIN=messages
LOCALES=(zh en)

CHECK=()
if [[ "${1:-}" == "--check" ]]; then
    CHECK=(--check)
fi

POT="$(mktemp "${TMPDIR:-/tmp}/paicha-messages.XXXXXX")"
trap 'rm -f "$POT"' EXIT

"$PYBABEL" extract \
    --mapping-file=babel.cfg \
    --no-default-keywords \
    --keyword=_ --keyword=__ --keyword=N_ --keyword=gettext --keyword=lazy_gettext \
    --add-comments=TRANSLATORS: \
    --project=paicha --version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml)" \
    --charset=utf-8 \
    --width=100 \
    --output-file="$POT" \
    .

for locale in "${LOCALES[@]}"; do
    po="$LOCALES_DIR/$locale/LC_MESSAGES/$DOMAIN.po"
    if [[ -f "$po" ]]; then
        # No fuzzy matching: a new msgid comes in untranslated (the test then
        # names it) rather than with a guessed translation marked fuzzy.
        "$PYBABEL" update "${CHECK[@]}" \
            --input-file="$POT" --output-dir="$LOCALES_DIR" --domain="$DOMAIN" \
            --locale="$locale" --no-fuzzy-matching --ignore-obsolete \
            --ignore-pot-creation-date --width=100
    elif [[ ${#CHECK[@]} -eq 0 ]]; then
        "$PYBABEL" init \
            --input-file="$POT" --output-dir="$LOCALES_DIR" --domain="$DOMAIN" \
            --locale="$locale" --width=100
    else
        echo "missing catalogue: $po" >&2
        exit 1
    fi
done
