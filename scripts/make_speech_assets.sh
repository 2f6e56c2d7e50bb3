#!/usr/bin/env bash
# Regenerates the bundled speech clips in audiokit/assets/speech/ from text, with Debian's
# festival (voices cmu_us_slt_arctic_hts and kal_diphone) and espeak-ng. Needs:
#   apt-get install festival festvox-us-slt-hts festvox-kallpc16k espeak-ng
# and the audiokit venv (for soxr resampling and atomic writes). Run from the repo root:
#   bash scripts/make_speech_assets.sh
# The outputs are committed so that tests and the demo never need apt.
set -euo pipefail
out=audiokit/assets/speech
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
PY=${PY:-.venv/bin/python}

echo "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background." \
  | text2wave -eval "(voice_cmu_us_slt_arctic_hts)" -o "$tmp/slt_a.wav"
echo "It is easy to tell the depth of a well. These days a chicken leg is a rare dish." \
  | text2wave -eval "(voice_cmu_us_slt_arctic_hts)" -o "$tmp/slt_b.wav"
echo "Rice is often served in round bowls. The juice of lemons makes fine punch." \
  | text2wave -eval "(voice_kal_diphone)" -o "$tmp/kal.wav"
espeak-ng -v en-us -s 150 -w "$tmp/espeak.wav" "The box was thrown beside the parked truck. Four hours of steady work faced us."

"$PY" - "$tmp" "$out" <<'PYEOF'
import sys
from audiokit.io import load, save
tmp, out = sys.argv[1], sys.argv[2]
jobs = [("slt_a.wav", "slt_16k.wav", 16000), ("kal.wav", "kal_16k.wav", 16000),
        ("espeak.wav", "espeak_16k.wav", 16000), ("slt_b.wav", "slt_48k.wav", 48000)]
for src, dst, sr in jobs:
    wav, _ = load(f"{tmp}/{src}", sr=sr, mono=True)
    wav = wav * (0.89 / wav.abs().max())  # peak -1 dBFS
    save(f"{out}/{dst}", wav, sr)
    print(f"{out}/{dst}: {wav.shape[1] / sr:.2f} s at {sr} Hz")
PYEOF
