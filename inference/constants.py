"""Audio constants, defined once. Everything else derives from these.

Units are in the names or the comments: seconds (``*_SECONDS``), samples, Hz, ms.
"""

from __future__ import annotations

SAMPLE_RATE = 16_000  # Hz: every model and feature in the pipeline runs at 16 kHz mono

MAX_DECODE_SECONDS = 300.0  # never decode more than 5 min of any input, however long it is
ANALYSIS_WINDOW_SECONDS = 30.0  # the most voiced 30 s window is what gets analysed
ANALYSIS_WINDOW_SAMPLES = int(ANALYSIS_WINDOW_SECONDS * SAMPLE_RATE)
MIN_INPUT_SECONDS = 1.0  # shorter input is refused before any work
MIN_VOICED_SECONDS = 1.5  # less detected voice than this: NoVoiceError

# Voice activity detection (webrtcvad accepts 10, 20 or 30 ms frames at 16 kHz)
VAD_FRAME_MS = 30
VAD_FRAME_SAMPLES = SAMPLE_RATE * VAD_FRAME_MS // 1000  # 480 samples
VAD_AGGRESSIVENESS = 2  # 0 (lenient) .. 3 (strict)

# Loudness normalisation target for the voiced part, dBFS RMS
TARGET_RMS_DBFS = -23.0
PEAK_LIMIT = 0.99  # after gain, peaks are soft-limited below this
CLIP_LEVEL = 0.999  # a sample at or above this magnitude counts as clipped

# Short-time analysis (features and images)
N_FFT = 512  # 32 ms
HOP_LENGTH = 160  # 10 ms
N_MELS = 64
IMAGE_HOP_LENGTH = 320  # 20 ms: image spectrograms are 50 frames per second
IMAGE_FRAMES = int(ANALYSIS_WINDOW_SECONDS * SAMPLE_RATE / IMAGE_HOP_LENGTH)  # 1500
IMAGE_DB_RANGE = 80.0  # dB shown below the fixed reference level (0 dBFS)

# Catalogue building: long files are cut into windows of this length
CATALOG_WINDOW_SECONDS = 30.0
CATALOG_MIN_WINDOW_SECONDS = 4.0  # a trailing window shorter than this is dropped
