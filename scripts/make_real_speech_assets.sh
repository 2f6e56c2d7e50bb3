#!/usr/bin/env bash
# Copies four held-out real speech clips (16 kHz) from recipes/realspeech/prepare.py's output into
# audiokit/assets/speech/real/ (two Czech lines of the `test` split, two Dutch lines of the
# speaker-disjoint `test_unseen` split; none is in any training split). Data preparation only.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-data/realspeech}
[ -d "$data/16000/test" ] || python recipes/realspeech/prepare.py --out "$data"
out=audiokit/assets/speech/real
mkdir -p "$out"
cp "$data/16000/test/aztec__bot-m-zivy.wav" "$out/cs_small_fish_16k.wav"
cp "$data/16000/test/aztec__bot-v-podivat.wav" "$out/cs_big_fish_16k.wav"
cp "$data/16000/test_unseen/briefcase__help17.wav" "$out/nl_help_16k.wav"
cp "$data/16000/test_unseen/cellar__pra-m-nepohnu.wav" "$out/nl_small_fish_16k.wav"
