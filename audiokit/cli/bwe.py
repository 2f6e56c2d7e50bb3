"""``audiokit bwe IN_DIR OUT_DIR``: AP-BWE bandwidth extension of a folder of audio files.

Each file is extended to the preset's target rate (16 or 48 kHz) with the input rate rules of
:meth:`audiokit.bwe.APBWE.extend`: audio at the preset's low rate is genuine narrowband, audio at
the target rate is degraded first (its upper band is re-synthesised, as the official inference),
other rates go through the low rate. Channels are processed independently; the output keeps the
input's duration, relative path, extension and sample format (``--subtype`` overrides; mp3 inputs
are written as wav). Outputs are atomic and a manifest in ``OUT_DIR`` makes reruns resume.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from pathlib import Path
from typing import Any

from audiokit.cli._common import add_batch_arguments

log = logging.getLogger(__name__)

MANIFEST_NAME = ".audiokit_bwe.jsonl"
DEFAULT_PRESET = "8k_16k"
PRECISIONS = ("reference", "fp32", "bf16")
#: ``audiokit.bwe.PRESETS`` names, listed here so that building the parser does not import torch.
PRESET_NAMES = ("2k_16k", "4k_16k", "8k_16k", "8k_48k", "12k_48k", "16k_48k", "24k_48k")


def bundled_model_dir() -> Path:
    """The bundled tiny 8 kHz -> 16 kHz model (``pretrained/ap_bwe_tiny_8k_16k`` in the source tree)."""
    from audiokit.assets import PRETRAINED_DIR

    return PRETRAINED_DIR / "ap_bwe_tiny_8k_16k"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bwe",
        help="bandwidth-extend a folder of speech to 16 or 48 kHz with AP-BWE",
        description="Extends every audio file under IN_DIR with AP-BWE and writes OUT_DIR/<same path> at the "
        "preset's target rate. Input at the preset's low rate is treated as genuine narrowband; input at "
        "the target rate is degraded first (its upper band is re-synthesised); other rates are resampled "
        "to the low rate. Reruns skip finished files; a bad file is reported and skipped.",
    )
    p.add_argument("in_dir", metavar="IN_DIR")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default=None,
        help=f"source and target rate (default: {DEFAULT_PRESET}, or the rates of a --checkpoint folder)",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="official generator file (g_8kto16k, ...; also .safetensors) or an audiokit pretrained folder "
        "(config.json + model.safetensors). Default: the bundled tiny model, which exists for 8k_16k only",
    )
    p.add_argument(
        "--precision",
        choices=("auto", *PRECISIONS),
        default="auto",
        help="auto (default): bf16 where the CPU has native bf16 (AMX or AVX512_BF16), else fp32; "
        "fp32: fused float32 network (equal to the official network to float rounding); "
        "bf16: bfloat16 pointwise layers, fastest on CPUs with AMX, slower than fp32 without native "
        "bf16 (output SNR > 30 dB vs fp32); reference: the op-for-op official network",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the fused network (slow first file)")
    p.add_argument(
        "--keep-low-band",
        choices=("auto", "yes", "no"),
        default="auto",
        help="keep the input's own spectrum below the source Nyquist and generate only above it; auto: "
        "as the model's config says (on for the bundled tiny model, off for official checkpoints)",
    )
    p.add_argument(
        "--chunk-frames",
        type=int,
        default=None,
        help="STFT frames per network call for long files (bounded memory, same result); default 512 "
        "for fp32/bf16, 2048 for reference",
    )
    p.add_argument(
        "--subtype",
        default=None,
        help="output sample format (PCM_16, PCM_24, FLOAT, ...); default: that of each input file",
    )
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads per worker")
    add_batch_arguments(p)
    p.set_defaults(func=run)


def resolve_model_spec(checkpoint: str | None, preset: str | None) -> dict[str, Any]:
    """Which weights to load: ``{"kind": "pretrained"|"official", "path", "preset"}``.

    Raises:
        CLIError: no bundled model for the preset, a missing path, or a folder of other rates.
    """
    from audiokit.bwe import APBWEConfig
    from audiokit.cli import CLIError

    if checkpoint is None:
        preset = preset or DEFAULT_PRESET
        if preset != DEFAULT_PRESET:
            raise CLIError(
                f"no bundled model for preset {preset}: pass --checkpoint (the official "
                f"g_{preset.replace('_', 'to')} generator file, a .safetensors file or an audiokit "
                "pretrained folder)"
            )
        path = bundled_model_dir()
        if not (path / "model.safetensors").exists():
            raise CLIError(f"{path}: the bundled tiny model is missing; pass --checkpoint")
        return {"kind": "pretrained", "path": str(path), "preset": preset}
    path = Path(checkpoint)
    if not path.exists():
        raise CLIError(f"{path}: no such checkpoint")
    if path.is_dir():
        import json

        cfg_file = path / "config.json"
        if not cfg_file.exists():
            raise CLIError(f"{path}: not an audiokit pretrained folder (no config.json)")
        try:
            meta = json.loads(cfg_file.read_text(encoding="utf-8"))
            cfg = APBWEConfig.from_dict(meta.get("config", meta))
        except (ValueError, AttributeError) as e:
            raise CLIError(f"{cfg_file}: not an AP-BWE config ({e})") from None
        want = APBWEConfig.preset(preset) if preset is not None else cfg
        if (want.lr_sampling_rate, want.hr_sampling_rate) != (cfg.lr_sampling_rate, cfg.hr_sampling_rate):
            raise CLIError(f"{path} holds a {cfg.name} model, not {preset}")
        return {"kind": "pretrained", "path": str(path), "preset": cfg.name}
    return {"kind": "official", "path": str(path), "preset": preset or DEFAULT_PRESET}


def load_model(spec: dict[str, Any], precision: str = "fp32", compile: bool = False):
    """The model of :func:`resolve_model_spec` in the requested inference form."""
    from audiokit.bwe import APBWE

    if spec["kind"] == "pretrained":
        model = APBWE.from_pretrained(spec["path"])
    else:
        model = APBWE.from_official(spec["path"], spec["preset"])
    if precision == "reference":
        return model
    return model.fuse(precision, compile=compile)


_MODELS: dict[tuple, Any] = {}  # per-process cache: a worker loads its model once


def _model_for(spec: dict[str, Any], precision: str, compile: bool):
    key = (tuple(sorted(spec.items())), precision, compile)
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = load_model(spec, precision, compile)
    return _MODELS[key]


def output_subtype(src: str, dst: str, requested: str | None) -> str | None:
    """The sample format of an output: ``requested``, else the input's when the output format
    supports it, else the format's default."""
    import soundfile as sf

    from audiokit.io import _format_for

    fmt = _format_for(Path(dst))
    if requested:
        if not sf.check_format(fmt, requested):
            raise ValueError(f"subtype {requested!r} is not valid for {Path(dst).suffix} files")
        return requested
    subtype = sf.info(src).subtype
    return subtype if sf.check_format(fmt, subtype) else None


def extend_file(item, spec: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Batch worker: extend ``item.src`` into ``item.dst`` (top level, so it pickles)."""
    import torch

    from audiokit.io import info, load, save

    if options.get("threads"):
        torch.set_num_threads(int(options["threads"]))
    model = _model_for(spec, options["precision"], options["compile"])
    meta = info(item.src)
    wav, sr = load(item.src)  # (C, T) at the file's rate
    chunk = options["chunk_frames"]
    if chunk is None and options["precision"] == "reference":
        from audiokit.bwe import DEFAULT_CHUNK_FRAMES

        chunk = DEFAULT_CHUNK_FRAMES
    keep = {"auto": None, "yes": True, "no": False}[options["keep_low_band"]]
    out = model.extend(wav, sr, chunk_frames=chunk, keep_low_band=keep)
    hr = model.config.hr_sampling_rate
    subtype = output_subtype(item.src, item.dst, options["subtype"])
    peak = float(out.abs().max())
    save(item.dst, out, hr, subtype=subtype)
    return {
        "input_sample_rate": meta.sample_rate,
        "channels": meta.channels,
        "seconds": round(out.shape[-1] / hr, 3),
        "subtype": subtype,
        "peak": round(peak, 4),
    }


def run(args: argparse.Namespace) -> int:
    from audiokit.batch import run_batch
    from audiokit.cli import CLIError
    from audiokit.cli._common import collect_items, existing_dir
    from audiokit.device import resolve_precision

    if args.chunk_frames is not None and args.chunk_frames < 1:
        raise CLIError(f"--chunk-frames must be positive, got {args.chunk_frames}")
    if args.threads is not None and args.threads < 1:
        raise CLIError(f"--threads must be positive, got {args.threads}")
    existing_dir(args.in_dir)
    spec = resolve_model_spec(args.checkpoint, args.preset)
    precision = resolve_precision(args.precision, announce=lambda m: print(m, file=sys.stderr))
    try:
        model = _model_for(spec, precision, args.compile)  # fail early on a bad checkpoint
    except (ValueError, FileNotFoundError) as e:
        raise CLIError(str(e)) from None
    if args.subtype:
        import soundfile as sf

        if args.subtype not in sf.available_subtypes():
            raise CLIError(f"unknown --subtype {args.subtype!r}; e.g. PCM_16, PCM_24, FLOAT")
    out_dir = Path(args.out_dir)
    items = collect_items(Path(args.in_dir), out_dir, args.shard)
    for it in items:  # lossy mp3 outputs would undo the extension: write wav
        if it.dst.lower().endswith(".mp3"):
            it.dst, it.key = it.dst[:-4] + ".wav", it.key[:-4] + ".wav"
    if not items:
        raise CLIError(f"{args.in_dir}: no audio files found")
    options = {
        "precision": precision,
        "compile": args.compile,
        "chunk_frames": args.chunk_frames,
        "subtype": args.subtype,
        "threads": args.threads,
        "keep_low_band": args.keep_low_band,
    }
    base = {"preset": spec["preset"], "checkpoint": spec["path"], "precision": precision}
    report = run_batch(
        items,
        functools.partial(extend_file, spec=spec, options=options),
        out_dir / MANIFEST_NAME,
        workers=args.workers,
        force=args.force,
        progress=not args.no_progress,
        desc="bwe",
        base_record=base,
    )
    cfg = model.config
    print(f"bwe {cfg.lr_sampling_rate} -> {cfg.hr_sampling_rate} Hz ({precision}): {report.summary()}")
    for key, err in report.failures:
        print(f"  failed: {key}: {err}")
    return report.exit_code
