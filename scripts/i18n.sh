#!/usr/bin/env bash
# The i18n catalogue (i18n/locales, domain "rapsim"), with Babel:
#   bash scripts/i18n.sh          extract the sentences from the source into rapsim.pot,
#                                 merge them into each language's .po, compile the .mo
#   bash scripts/i18n.sh compile  only compile the .po files (after translating)
# New or changed sentences come out untranslated (or fuzzy) in the .po: translate them,
# then run it again. tests/test_i18n.py fails while a sentence is untranslated or a .mo
# is older than its .po.
set -euo pipefail
cd "$(dirname "$0")/.."
babel=.venv/bin/pybabel
dir=i18n/locales
if [ "${1:-}" != compile ]; then
  "$babel" -q extract -F babel.cfg -k N_ --sort-by-file --no-wrap \
    --project rapsim --copyright-holder "Rap Simulator" -o "$dir/rapsim.pot" .
  for po in "$dir"/*/LC_MESSAGES/rapsim.po; do
    lang=$(basename "$(dirname "$(dirname "$po")")")
    "$babel" -q update -D rapsim -i "$dir/rapsim.pot" -d "$dir" -l "$lang" --no-wrap \
      --ignore-obsolete
  done
fi
"$babel" -q compile -D rapsim -d "$dir" --statistics
