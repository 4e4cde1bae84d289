#!/usr/bin/env bash
# Set up Rap Simulator in ./.venv on a fresh Debian/Ubuntu machine.
#   bash scripts/setup.sh          what `rapsim` needs (ffmpeg for m4a/webm/mp4 notes,
#                                  fonts-noto-cjk for images in Korean)
#   bash scripts/setup.sh --dev    plus the test tools (pytest, ruff, mypy, transformers,
#                                  espeak-ng for test speech, redis-server for the
#                                  distributed pool's tests, fluidsynth and two General-MIDI
#                                  soundfonts for the beats of bench/gm_beats.py)
# Safe to run again. System packages are installed with apt-get when running as root (or
# through sudo); otherwise the script says what to install and goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1
PY=${PYTHON:-python3}

apt_pkgs=(ffmpeg fonts-noto-cjk libopus0)  # libopus0: Opus for cypher mode's voice channels
[ $dev = 1 ] && apt_pkgs+=(espeak-ng redis-server fluidsynth fluid-soundfont-gm timgm6mb-soundfont)
missing=()
for p in "${apt_pkgs[@]}"; do
  if [ "$p" = fonts-noto-cjk ]; then  # a font, not a command: look for its file
    ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 || missing+=("$p")
  elif [ "$p" = libopus0 ]; then  # a library: look for it where the loader finds it
    ldconfig -p 2>/dev/null | grep 'libopus\.so\.0' >/dev/null || missing+=("$p")
  elif [ "$p" = fluid-soundfont-gm ]; then  # soundfonts too: look for their files
    ls /usr/share/sounds/sf2/FluidR3_GM.sf2 >/dev/null 2>&1 || missing+=("$p")
  elif [ "$p" = timgm6mb-soundfont ]; then
    ls /usr/share/sounds/sf2/TimGM6mb.sf2 >/dev/null 2>&1 || missing+=("$p")
  else
    command -v "$p" >/dev/null 2>&1 || missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else sudo="none"; fi
  if [ "$sudo" != none ]; then
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
# torch first, pinned: this CPU build is what the machines here have; a bare `torch`
# would pull a multi-GB CUDA build.
"${pip[@]}" install "torch==${TORCH_VERSION:-2.13.0}"
if [ $dev = 1 ]; then
  "${pip[@]}" install -e ".[dev]"
else
  "${pip[@]}" install -e .
fi
# resemblyzer last, without dependencies: its metadata asks for `typing` (a Python 2 era
# backport) and `webrtcvad` (whose module imports pkg_resources, gone from setuptools >= 81).
# The project depends on the prebuilt drop-in `webrtcvad-wheels` and on resemblyzer's
# other dependencies. Installed last, and with --no-deps (pip then runs no conflict
# check), pip's resolver never reads that metadata, so it has nothing to complain about.
"${pip[@]}" install --no-deps "resemblyzer==0.1.4"
# One warm-up now: librosa compiles its numba kernels on first use (a minute on a busy
# 2-core machine) and caches them on disk, so the first `rapsim demo` answers in seconds.
# It also checks that everything imports and the shipped demo catalogue loads.
OMP_WAIT_POLICY=PASSIVE .venv/bin/python -c "
from inference import Analyzer, Pipeline, demo_catalog, load_encoder
pipeline = Pipeline(load_encoder())
Analyzer(demo_catalog(pipeline), pipeline).warmup()"
if [ $dev = 1 ]; then
  echo "setup: ready: .venv with rapsim and the test tools; run .venv/bin/rapsim demo, then .venv/bin/python -m pytest -q"
else
  echo "setup: ready: .venv with rapsim and the demo catalogue; run .venv/bin/rapsim demo"
fi
