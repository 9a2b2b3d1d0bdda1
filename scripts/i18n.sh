#!/usr/bin/env bash
# After changing UI text: extract every string, merge into the Chinese catalog, compile.
# Then translate the new entries in translations/zh/LC_MESSAGES/messages.po and run it again.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel extract -F babel.cfg -k _l -k _lp:1c,2 -k lazy_gettext -k lazy_pgettext:1c,2 \
  --ignore-dirs=".venv tests bench migrations" -o translations/messages.pot .
.venv/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
.venv/bin/pybabel compile -d translations --statistics
