#!/usr/bin/env bash
# Debian's CJK font (the /summary chart's Chinese labels) and headless
# LibreOffice (tests convert every exported workbook and .docx to PDF).
# Best effort: without them those tests skip and say why.
set -uo pipefail
have_font=$(fc-list :lang=zh family 2>/dev/null | head -1)
if [ -n "$have_font" ] && command -v soffice >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
{
  apt-get update -qq &&
  apt-get install -y -qq --no-install-recommends fonts-wqy-microhei \
    libreoffice-calc-nogui libreoffice-writer-nogui
} >&2 || echo "could not install the CJK font / LibreOffice: those tests will skip" >&2
