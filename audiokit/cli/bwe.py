"""``audiokit bwe IN_DIR OUT_DIR``: AP-BWE bandwidth extension of a folder of audio files.

Each file is extended to the preset's target rate (16 or 48 kHz) with the input rate rules of
:meth:`audiokit.bwe.APBWE.extend`: audio at the preset's low rate is genuine narrowband, audio at
the target rate is degraded first (its upper band is re-synthesised, as the official inference),
other rates go through the low rate. Channels are processed independently; the output keeps the
input's duration, relative path, extension and sample format (``--subtype`` overrides; mp3 inputs
are written as wav). Outputs are atomic and ``OUT_DIR/manifest.jsonl`` makes reruns resume (see
:func:`audiokit.batch.open_job` for the rules every batch command shares).

Extended speech can peak above full scale (the generated upper band adds to the input's peaks).
``--peak`` states what happens then, as in ``audiokit perturb``: ``limit`` (default) scales that file
down to a 0.999 peak, ``clip`` clips it, ``none`` leaves it (kept in float files, clipped by integer
ones). The manifest records each file's peak and what was done; the command prints one summary line.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from audiokit.cli._common import add_batch_arguments, add_stream_argument, positive_int

log = logging.getLogger(__name__)

#: the manifest name of audiokit <= 0.x; renamed to ``manifest.jsonl`` by a rerun
LEGACY_MANIFEST = ".audiokit_bwe.jsonl"
DEFAULT_PRESET = "8k_16k"
PRECISIONS = ("reference", "fp32", "bf16")
#: ``audiokit.bwe.PRESETS`` names, listed here so that building the parser does not import torch.
PRESET_NAMES = ("2k_16k", "4k_16k", "8k_16k", "8k_48k", "12k_48k", "16k_48k", "24k_48k")
#: ``audiokit.io.PEAK_MODES`` (listed here so that building the parser does not import torch)
PEAK_MODES = ("limit", "clip", "none")


#: the bundled 8 kHz -> 16 kHz model ``bwe`` and ``demo`` use by default (trained on real recorded speech)
DEFAULT_MODEL = "ap_bwe_realspeech_8k_16k"


def bundled_model_dir() -> Path:
    """The bundled default model (``pretrained/ap_bwe_realspeech_8k_16k`` in the source tree)."""
    from audiokit.assets import PRETRAINED_DIR

    return PRETRAINED_DIR / DEFAULT_MODEL


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
        type=positive_int,
        default=None,
        help="STFT frames per network call for long files (bounded memory, same result); default 512 "
        "for fp32/bf16, 2048 for reference",
    )
    p.add_argument(
        "--subtype",
        default=None,
        help="output sample format (PCM_16, PCM_24, FLOAT, ...); default: that of each input file",
    )
    p.add_argument(
        "--peak",
        choices=PEAK_MODES,
        default="limit",
        help="outputs above full scale: limit (default) scales the file down to a 0.999 peak, clip clips "
        "it, none leaves it (float outputs keep it, integer ones are clipped); reported once per batch",
    )
    add_stream_argument(p)
    p.add_argument("--threads", type=positive_int, default=None, help="torch intra-op threads per worker")
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
        from audiokit.checkpoints import checkpoint_errors, read_config_json

        cfg_file = path / "config.json"
        if not cfg_file.exists():
            raise CLIError(f"{path}: not an audiokit pretrained folder (no config.json)")
        meta = read_config_json(cfg_file)
        with checkpoint_errors(cfg_file):
            cfg = APBWEConfig.from_dict(meta.get("config", meta))
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


def output_subtype(src: str, dst: str, requested: str | None) -> str:
    """The sample format of an output: ``requested``, else the input's when the output format
    can write it, else the format's default (an mp3 input gives a ``PCM_16`` wav)."""
    import soundfile as sf

    from audiokit.io import writable_subtype

    if requested:
        if writable_subtype(dst, requested) != requested:
            raise ValueError(f"subtype {requested!r} is not valid for {Path(dst).suffix} files")
        return requested
    return writable_subtype(dst, sf.info(src).subtype)


def extend_file(item, spec: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Batch worker: extend ``item.src`` into ``item.dst`` (top level, so it pickles)."""
    import torch

    from audiokit.cli._common import streams
    from audiokit.io import info, limit_peaks, load, save

    if options.get("threads"):
        torch.set_num_threads(int(options["threads"]))
    model = _model_for(spec, options["precision"], options["compile"])
    meta = info(item.src)
    keep = {"auto": None, "yes": True, "no": False}[options["keep_low_band"]]
    if streams(options.get("stream", "off"), meta.frames / meta.sample_rate):
        return _extend_streamed(model, item, meta, keep, options)
    wav, sr = load(item.src)  # (C, T) at the file's rate
    chunk = options["chunk_frames"]
    if chunk is None and options["precision"] == "reference":
        from audiokit.bwe import DEFAULT_CHUNK_FRAMES

        chunk = DEFAULT_CHUNK_FRAMES
    out = model.extend(wav, sr, chunk_frames=chunk, keep_low_band=keep)
    hr = model.config.hr_sampling_rate
    subtype = output_subtype(item.src, item.dst, options["subtype"])
    audio, peak = limit_peaks(out.numpy(), options["peak"])
    with warnings.catch_warnings(record=True) as caught:  # counted in the batch summary instead
        warnings.filterwarnings("always", message=".*exceeds full scale", category=UserWarning)
        save(item.dst, audio, hr, subtype=subtype)
    for w in caught:
        if "exceeds full scale" in str(w.message):
            peak["clipped_by_format"] = True
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return {
        "input_sample_rate": meta.sample_rate,
        "channels": meta.channels,
        "seconds": round(out.shape[-1] / hr, 3),
        "subtype": subtype,
        **peak,
    }


def _extend_streamed(model, item, meta, keep: bool | None, options: dict[str, Any]) -> dict[str, Any]:
    """``item.src`` read, extended and written block by block (bounded memory), under the same
    peak policy (``limit`` writes a float32 temporary file first: it needs the whole file's peak)."""
    from audiokit.bwe.streaming import extend_blocks
    from audiokit.cli._common import STREAM_BLOCK_SECONDS
    from audiokit.frontend import sinc_resample_length
    from audiokit.io import iter_blocks, write_blocks

    hr = model.config.hr_sampling_rate
    subtype = output_subtype(item.src, item.dst, options["subtype"])
    blocks = iter_blocks(item.src, int(STREAM_BLOCK_SECONDS * meta.sample_rate))
    wide = extend_blocks(model, blocks, meta.sample_rate, keep)
    with warnings.catch_warnings(record=True) as caught:  # counted in the batch summary instead
        warnings.filterwarnings("always", message=".*exceeds full scale", category=UserWarning)
        peak = write_blocks(item.dst, wide, hr, meta.channels, subtype, peak=options["peak"])
    if any("exceeds full scale" in str(w.message) for w in caught):
        peak["clipped_by_format"] = True
    return {
        "input_sample_rate": meta.sample_rate,
        "channels": meta.channels,
        "seconds": round(sinc_resample_length(meta.frames, meta.sample_rate, hr) / hr, 3),
        "subtype": subtype,
        "streamed": True,
        **peak,
    }


def peak_summary(records: list[dict[str, Any]], mode: str) -> str | None:
    """One line on the outputs that exceeded full scale and what ``--peak mode`` did with them,
    from their manifest records; ``None`` when none did."""
    over = [r for r in records if r.get("peak", 0.0) > 0.999]
    if not over:
        return None
    top = max(r["peak"] for r in over)
    head = f"peak ({mode}): {len(over)} of {len(records)} outputs exceeded full scale (max {top:.3f})"
    if mode == "limit":
        return head + f"; scaled down by up to {min(r.get('peak_gain_db', 0.0) for r in over):.2f} dB"
    if mode == "clip":
        return head + f"; {sum(r.get('clipped_samples', 0) for r in over)} samples clipped"
    clipped = sorted({r["subtype"] for r in over if r.get("clipped_by_format")})
    if clipped:
        return head + f"; clipped by their {', '.join(clipped)} format (use --peak limit or --subtype FLOAT)"
    return head + "; kept (float outputs)"


def run(args: argparse.Namespace) -> int:
    from audiokit.batch import finish, open_job, run_batch
    from audiokit.cli import CLIError
    from audiokit.cli._common import collect_items, existing_dir
    from audiokit.device import resolve_precision

    existing_dir(args.in_dir)
    spec = resolve_model_spec(args.checkpoint, args.preset)
    notes: list[str] = []  # the precision choice, printed once the job's rules have passed
    precision = resolve_precision(args.precision, announce=notes.append)
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
        "peak": args.peak,
        "stream": args.stream,
    }
    base = {
        "preset": spec["preset"],
        "checkpoint": spec["path"],
        "precision": precision,
        "peak_policy": args.peak,
    }
    # the requested precision ("auto" stays "auto"): shards on different CPUs share one job
    settings = {
        **spec,
        **{k: options[k] for k in ("subtype", "keep_low_band", "peak")},
        "precision": args.precision,
    }
    if args.stream != "auto":  # (older jobs have no "stream" entry: auto)
        settings["stream"] = args.stream
    with open_job(
        "bwe",
        out_dir,
        settings,
        items=items,
        in_dir=args.in_dir,
        force=args.force,
        shard_spec=args.shard,
        legacy_manifest=LEGACY_MANIFEST,
    ) as manifest:
        for note in notes:
            print(note, file=sys.stderr)
        report = run_batch(
            items,
            functools.partial(extend_file, spec=spec, options=options),
            manifest,
            workers=args.workers,
            force=args.force,
            progress=not args.no_progress,
            desc="bwe",
            base_record=base,
        )
    cfg = model.config
    code = finish(report, f"bwe {cfg.lr_sampling_rate} -> {cfg.hr_sampling_rate} Hz ({precision}): ")
    keys = {it.key for it in items}
    ok = [r for k, r in manifest.records().items() if k in keys and r.get("status") == "ok"]
    line = peak_summary([r for r in ok if r.get("peak_policy") == args.peak], args.peak)
    if line:
        print(line)
    return code
