#!/usr/bin/env bash
# Build the accuracy-benchmark corpus: synthetic rap clips from every distinct Debian TTS
# voice ("default" group of make_corpus.py: one identity per recorded speaker plus the
# espeak-ng formant variants), train/test split by text, ogg/opus copies, a drum beat
# under half of the clips. Then check it with check_corpus.py.
#
# Usage:  bench/make_corpus.sh [OUT] [make_corpus.py options...]   (OUT: /tmp/bench/corpus)
#   The second corpus (other seed, other lines, 5 train clips per voice), used to confirm
#   every choice made on the first:
#   CLIPS_PER_VOICE=8 bench/make_corpus.sh /tmp/bench/corpus-b --seed 2 --test-frac 0.4 \
#       --lines-file bench/data/lines_b.txt
# Environment:
#   PYTHON                 interpreter with numpy (default: python3)
#   RAPSIM_SHARED_CORPUS   folder holding make_corpus.py (default: <repo>/../shared/corpus)
#   CLIPS_PER_VOICE        clips per identity (default 12 -> 8 train + 4 test; the split
#                          gives round(K * 0.3) clips to test, so K=11 is the least that
#                          leaves >= 8 train and >= 3 test; 12 keeps one spare test clip)
#   ALLOW_MISSING=1        go on when some voices cannot be installed (default: fail, so
#                          that every benchmark run uses the same identity set)
#
# Missing voices: the script runs install_voices.sh beside make_corpus.py, which needs
# root (apt-get; it also adds the contrib/non-free components for MBROLA, pico, RHVoice).
# Not root: it uses sudo when available, else stops and says what to run.
# Takes about 3-4 minutes on 2 cores for 43 identities x 12 clips.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${RAPSIM_SHARED_CORPUS:-$repo/../shared/corpus}"
out="${1:-/tmp/bench/corpus}"
[ $# -gt 0 ] && shift
extra=("$@")
py="${PYTHON:-python3}"
k="${CLIPS_PER_VOICE:-12}"

[ -f "$shared/make_corpus.py" ] || { echo "no make_corpus.py in $shared (set RAPSIM_SHARED_CORPUS)" >&2; exit 2; }

# Identities of the "default" group that make_corpus.py cannot synthesise here.
missing_voices() {
  "$py" "$shared/make_corpus.py" --list-voices | "$py" -c '
import csv, sys
rows = [r for r in csv.DictReader(sys.stdin) if not r["dup_of"] and r["available"] != "yes"]
print(" ".join(r["identity"] for r in rows))'
}

missing="$(missing_voices)"
if [ -n "$missing" ]; then
  echo "voices missing: $missing" >&2
  if [ "$(id -u)" -eq 0 ]; then
    bash "$shared/install_voices.sh"
  elif command -v sudo >/dev/null 2>&1; then
    sudo bash "$shared/install_voices.sh"
  else
    echo "run as root: bash $shared/install_voices.sh" >&2
    exit 2
  fi
fi

strict=(--strict)
[ "${ALLOW_MISSING:-0}" = "1" ] && strict=()

start=$(date +%s)
"$py" "$shared/make_corpus.py" --out "$out" --voices default --clips-per-voice "$k" \
  --split-text --opus --with-beat-prob 0.5 -j "$(nproc)" "${strict[@]}" "${extra[@]}"
echo "corpus built in $(( $(date +%s) - start )) s -> $out" >&2

"$py" "$shared/check_corpus.py" "$out"
