#!/usr/bin/env bash
# The prepared GPU run of this recipe: about MINUTES (default 10) of training per model on one GPU,
# warm-started from the bundled real-speech models, then release.py into runs/gpu_release/ (scores
# against Griffin-Lim / plain upsampling on the held-out sets). Use the result if its card beats the
# bundled one. Needs data/realspeech (prepare.py; the GPU machine has no network, so prepare it
# before and bring it along). Training stops by SIGTERM, which saves a checkpoint first.
#   bash recipes/realspeech/gpu_run.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/../.."
MIN=${1:-10}
AK=${AK:-audiokit}
PY=${PY:-python}
test -d data/realspeech/16000/train || { echo "error: no data/realspeech (run prepare.py first)" >&2; exit 2; }
common=(train.device=cuda train.batch_size=32 train.num_workers=4 train.validate_every=2000 train.max_steps=1000000)
# vocoder: the GAN recipe of the paper needs far longer; in minutes the spectral losses are what pays
timeout -s TERM "${MIN}m" "$AK" train recipes/realspeech/apnet_16k.yaml "${common[@]}" \
    train.run_dir=runs/gpu_apnet train.init_from.generator=pretrained/apnet_realspeech_16k \
    model.amplitude_prior=mel_nnls || test $? -eq 124
timeout -s TERM "${MIN}m" "$AK" train recipes/realspeech/ap_bwe_8k_16k.yaml "${common[@]}" \
    train.run_dir=runs/gpu_ap_bwe train.init_from.generator=pretrained/ap_bwe_realspeech_8k_16k \
    train.optimizer.lr=2.5e-4 || test $? -eq 124
mkdir -p runs/gpu_release
"$PY" recipes/realspeech/release.py vocoder runs/gpu_apnet runs/gpu_release/apnet_realspeech_16k \
    --previous pretrained/apnet_realspeech_16k/metrics.json --phase-refine 32
"$PY" recipes/realspeech/release.py bwe runs/gpu_ap_bwe runs/gpu_release/ap_bwe_realspeech_8k_16k \
    --previous pretrained/ap_bwe_realspeech_8k_16k/metrics.json
