#!/usr/bin/env bash
# Regenerate the bundled demo audio (clips/ and sample_note.ogg) from the Debian TTS voices
# listed in artists.json, with the shared corpus generator make_corpus.py.
#
# Usage:  inference/demo_data/make_demo_data.sh [WORKDIR]     (WORKDIR: scratch, default mktemp)
# Environment: PYTHON (default python3, needs numpy), RAPSIM_SHARED_CORPUS (folder holding
# make_corpus.py; default <repo>/../shared/corpus). Needs flite, festival + festvox-kdlpc16k,
# rhvoice-english, espeak-ng, sox and ffmpeg (see ../shared/corpus/install_voices.sh).
#
# Catalogue clips: the first CLIPS train-split clips of each voice (lyrics disjoint from the
# test split), re-encoded from the 16 kHz wav to mono ogg/opus at 24 kbit/s to keep git small.
# Sample note: a test-split clip (unseen lyrics) of one voice, regenerated with a drum beat
# under it; make_corpus.py draws every random quantity per clip in a fixed order, so the
# speech is the same as without the beat. Its ogg/opus copy (48 kHz mono 32 kbit/s, like a
# Telegram voice note) is used as it is.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="${RAPSIM_SHARED_CORPUS:-$repo/../shared/corpus}"
py="${PYTHON:-python3}"
work="${1:-$(mktemp -d)}"
CLIPS=5

# identity<TAB>display name, one per artist; then the note's identity and clip number
mapfile -t pairs < <("$py" -c '
import json, sys
meta = json.load(open(sys.argv[1]))
for name, a in meta["artists"].items():
    print(a["identity"] + "\t" + name)' "$here/artists.json")
read -r note_ident note_clip < <("$py" -c '
import json, sys
n = json.load(open(sys.argv[1]))["sample_note"]
print(*n["source_clip"].split("/"))' "$here/artists.json")
voices="$(printf '%s\n' "${pairs[@]}" | cut -f1 | paste -sd,)"

"$py" "$shared/make_corpus.py" --voices "$voices" --clips-per-voice 8 --split-text --opus \
  --with-beat-prob 0.0 --out "$work/demo_corpus" -j 2 --strict
"$py" "$shared/make_corpus.py" --voices "$note_ident" --clips-per-voice 8 --split-text --opus \
  --with-beat-prob 1.0 --out "$work/demo_note" -j 1 --strict

rm -rf "$here/clips"
for pair in "${pairs[@]}"; do
  ident="${pair%%$'\t'*}"
  name="${pair#*$'\t'}"
  mkdir -p "$here/clips/$name"
  # train clips, in clip order (manifest columns: path, identity, ..., split is column 10)
  mapfile -t wavs < <(awk -F, -v id="$ident" '$2 == id && $10 == "train" {print $1}' \
    "$work/demo_corpus/manifest.csv" | sort | head -n "$CLIPS")
  i=1
  for wav in "${wavs[@]}"; do
    ffmpeg -nostdin -loglevel error -y -i "$work/demo_corpus/$wav" -map_metadata -1 -ac 1 \
      -ar 48000 -c:a libopus -b:a 24k -application voip -fflags +bitexact -flags:a +bitexact \
      "$here/clips/$name/$(printf '%02d' "$i").ogg"
    i=$((i + 1))
  done
done
cp "$work/demo_note/$note_ident/$note_clip.ogg" "$here/sample_note.ogg"
du -sh "$here/clips" "$here/sample_note.ogg"
echo "now rebuild the shipped catalogue: .venv/bin/python inference/demo_data/make_demo_catalog.py"
