"""Turn a trained APNet/APNet2 folder into the warm start of an ``amplitude_prior="mel_nnls"`` stage.

    python recipes/realspeech/add_amplitude_prior.py pretrained/apnet_realspeech_16k runs/init_apnet_prior

The weights are copied and the amplitude branch's output convolution is scaled by ``scale`` (1e-3),
so that the new model starts at the mel inversion (plus a trace of the old amplitude) instead of
adding the old amplitude to it. Scaled, not zeroed: training re-applies weight norm, whose
``g = ||w||`` would be 0 and ``w / ||w||`` undefined.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="pretrained APNet/APNet2 folder")
    ap.add_argument("out", help="output folder (config.json + model.safetensors)")
    ap.add_argument("--scale", type=float, default=1e-3)
    args = ap.parse_args()

    from audiokit.vocoders import load_vocoder

    src = load_vocoder(args.src).fold_weight_norm()
    extra = {"weight_norm": False} if hasattr(src.config, "weight_norm") else {}
    model = type(src)(dataclasses.replace(src.config, amplitude_prior="mel_nnls", **extra))
    model.load_state_dict(src.state_dict())
    with torch.no_grad():
        model.ASP_output_conv.weight.mul_(args.scale)
        model.ASP_output_conv.bias.mul_(args.scale)
    model.save_pretrained(args.out)
    print(f"wrote {args.out} ({type(model).__name__}, amplitude_prior=mel_nnls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
