"""``audiokit export CKPT OUT_DIR``: released weights (safetensors + config.json) from a checkpoint;
``audiokit export --onnx MODEL OUT.onnx``: an ONNX graph of an APNet, APNet2 or AP-BWE model."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write model.safetensors + config.json from a training checkpoint, or an ONNX graph (--onnx)",
        description="CKPT is a checkpoint file (step_*.pt) or a run directory (its newest checkpoint). "
        "The training task decides what is exported (usually the generator only). With --onnx, CKPT is a "
        "pretrained folder or bundled name (apnet_tiny, ap_bwe_tiny_8k_16k) of an APNet, APNet2 or AP-BWE "
        "model and OUT is the .onnx file: vocoders map a log-mel (B, n_mels, N) to audio (B, T), AP-BWE "
        "narrowband audio (B, T) at the low rate to wideband audio (needs the onnx extra).",
    )
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("out_dir", metavar="OUT")
    p.add_argument("--onnx", action="store_true", help="export an ONNX graph (OUT.onnx) of a model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audiokit.batch import prepare_out_dir, prepare_out_file

    if args.onnx:
        from audiokit.cli import CLIError
        from audiokit.onnx_export import export_onnx

        if not args.out_dir.endswith(".onnx"):
            raise CLIError(f"{args.out_dir}: the output file must end in .onnx")
        prepare_out_file(args.out_dir)  # a folder or an unwritable place: one line, before exporting
        try:
            print(export_onnx(args.checkpoint, args.out_dir))
        except (ValueError, FileNotFoundError) as e:
            raise CLIError(str(e)) from None
        return 0
    from audiokit.train import export_checkpoint

    prepare_out_dir(args.out_dir)  # a file or an unwritable place: one line, before loading anything
    for path in export_checkpoint(args.checkpoint, args.out_dir):
        print(path)
    return 0
