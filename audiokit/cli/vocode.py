"""``audiokit vocode IN_DIR OUT_DIR``: APNet/APNet2 vocoding of a folder of audio files or ``.npy`` mels.

Audio files are analysed with the model's own mel extractor and resynthesised (analysis-resynthesis);
``.npy`` files are taken as log-mels ``(n_mels, N)`` (also ``(1, n_mels, N)`` and the official APNet2
inference layout ``(1, N, n_mels)``). Outputs mirror the input tree as ``.wav`` files at the model's
sample rate, written atomically; ``OUT_DIR/manifest.jsonl`` makes reruns resume (see
:func:`audiokit.batch.open_job` for the rules every batch command shares).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from audiokit.cli._common import add_batch_arguments, add_stream_argument, nonneg_int, positive_int

log = logging.getLogger(__name__)

#: the manifest name of audiokit <= 0.x; renamed to ``manifest.jsonl`` by a rerun
LEGACY_MANIFEST = ".audiokit_vocode.jsonl"
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16", "reference": None}  # plus "auto" (audiokit.device)
#: Chunk of a streamed model with phase refinement when ``--chunk-seconds 0`` (refinement couples
#: frames, so a stream is refined chunk by chunk; 30 s at hop 80 / 16 kHz).
STREAM_REFINE_CHUNK_FRAMES = 6000

#: Shortest ``--chunk-seconds`` (a chunk much shorter than the model's receptive field is all context).
MIN_CHUNK_SECONDS = 1.0


def chunk_seconds(text: str) -> float:
    """``type=`` of ``--chunk-seconds``: 0 (no chunking) or a finite number >= :data:`MIN_CHUNK_SECONDS`."""
    from audiokit.cli._common import nonneg_float

    v = nonneg_float(text)
    if 0 < v < MIN_CHUNK_SECONDS:
        raise argparse.ArgumentTypeError(f"must be 0 (no chunking) or >= {MIN_CHUNK_SECONDS:g}, got {text!r}")
    return v


#: the bundled model ``vocode`` and ``demo`` use by default (trained on real recorded speech)
DEFAULT_MODEL = "apnet_realspeech_16k"


def default_checkpoint() -> Path:
    """The bundled default model (``pretrained/apnet_realspeech_16k`` in the source tree)."""
    from audiokit.assets import PRETRAINED_DIR

    return PRETRAINED_DIR / DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vocode",
        help="vocode a folder of wavs (analysis-resynthesis) or .npy log-mels with APNet/APNet2",
        description="Vocodes every audio file (resynthesis from its own log-mel) and every .npy log-mel "
        "under IN_DIR with APNet or APNet2 and writes OUT_DIR/<same path>.wav at the model's sample rate. "
        "Audio is mixed down to mono and resampled to the model's rate first. Reruns skip finished files.",
    )
    p.add_argument("in_dir", metavar="IN_DIR")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument(
        "--model",
        choices=["apnet", "apnet2"],
        default=None,
        help="model type; required for an official checkpoint, checked against an audiokit pretrained folder",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="audiokit pretrained folder (config.json + model.safetensors) or official generator file "
        "(g_XXXXXXXX); default: the bundled real-speech model (pretrained/apnet_realspeech_16k; "
        "GPL-2 weights, see its card)",
    )
    p.add_argument(
        "--config",
        default=None,
        metavar="JSON",
        help="official config.json for an official checkpoint (default: the official configuration)",
    )
    p.add_argument(
        "--precision",
        choices=["auto", *sorted(PRECISIONS)],
        default="auto",
        help="auto (default): bf16 where the CPU has native bf16 (AMX or AVX512_BF16), else fp32; "
        "fp32: fast fp32 engine; bf16: bfloat16 engine, fastest on CPUs with AMX/AVX512-BF16, slower "
        "than fp32 elsewhere (output SNR about 35 dB vs fp32); reference: the op-for-op official network",
    )
    p.add_argument(
        "--chunk-seconds",
        type=chunk_seconds,
        default=30.0,
        help="vocode long inputs in chunks of this many seconds (bounded memory; exact for APNet, "
        "approximate for APNet2 whose GRN is global); 0 disables chunking, else at least "
        f"{MIN_CHUNK_SECONDS:g} (default 30)",
    )
    p.add_argument(
        "--phase-refine",
        type=nonneg_int,
        default=None,
        metavar="N",
        help="fast Griffin-Lim iterations on the predicted amplitude, started from the predicted phase "
        "(default: the model's own setting, 32 for the bundled real-speech model; 0: the network's phase)",
    )
    add_stream_argument(p)
    p.add_argument("--threads", type=positive_int, default=None, help="torch intra-op threads per worker")
    add_batch_arguments(p)
    p.set_defaults(func=run)


def _load_model(spec: dict[str, Any]):
    from audiokit.vocoders import load_vocoder

    return load_vocoder(spec["checkpoint"], spec["model"], config=spec["config"])


_MODELS: dict[tuple, Any] = {}  # per-process cache of loaded models (workers load once)


def _model_for(spec: dict[str, Any]):
    key = tuple(sorted((k, str(v)) for k, v in spec.items()))
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = _load_model(spec)
    return _MODELS[key]


def read_mel_npy(path: str | Path, n_mels: int):
    """A ``.npy`` log-mel as a float32 tensor ``(1, n_mels, N)``; accepts ``(n_mels, N)``,
    ``(1, n_mels, N)``, ``(N, n_mels)`` and ``(1, N, n_mels)`` (when unambiguous)."""
    import numpy as np
    import torch

    try:
        arr = np.load(str(path), allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable .npy array ({type(e).__name__}: {e})") from None
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or n_mels not in arr.shape:
        raise ValueError(f"{path}: expected a log-mel of shape ({n_mels}, N), got {arr.shape}")
    if arr.shape[0] != n_mels:  # (N, n_mels), the official APNet2 inference layout
        arr = arr.T
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{path}: log-mel must be floating point, got {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: log-mel contains NaN or Inf")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).unsqueeze(0)


def vocode_file(item, spec: dict[str, Any]) -> dict[str, Any]:
    """Batch worker: vocode ``item.src`` into ``item.dst`` (top level so that it pickles)."""
    import torch

    from audiokit.cli._common import streams
    from audiokit.io import info, load, save

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    model = _model_for({k: spec[k] for k in ("checkpoint", "model", "config")})
    sr = model.sample_rate
    record: dict[str, Any] = {}
    dtype = getattr(torch, PRECISIONS[spec["precision"]]) if PRECISIONS[spec["precision"]] else None
    if item.src.lower().endswith(".npy"):
        mel = read_mel_npy(item.src, model.n_mels)
    else:
        meta = info(item.src)
        record.update(input_sample_rate=meta.sample_rate, input_channels=meta.channels)
        if streams(spec.get("stream", "off"), meta.frames / meta.sample_rate):
            chunk = _chunk_frames(spec["chunk_seconds"], sr, model.hop_length) or STREAM_REFINE_CHUNK_FRAMES
            refine = spec.get("phase_refine")
            return {**record, **_vocode_streamed(model, item, meta.sample_rate, dtype, chunk, refine)}
        wav, _ = load(item.src, sr=sr, mono=True)
        mel = model.mel(wav[0], sample_rate=sr)
    chunk = _chunk_frames(spec["chunk_seconds"], sr, model.hop_length)
    audio = model.synthesize(
        mel, chunk_frames=chunk, dtype=dtype, phase_refine_iters=spec.get("phase_refine")
    )[0]
    save(item.dst, audio, sr)
    record.update(frames=int(mel.shape[-1]), seconds_out=round(audio.shape[-1] / sr, 3))
    return record


def _chunk_frames(seconds: float, sr: int, hop: int) -> int | None:
    """``--chunk-seconds`` in output frames (``None``: no chunking)."""
    return int(seconds * sr / hop) if seconds > 0 else None


def _vocode_streamed(
    model, item, sample_rate: int, dtype, chunk_frames: int, phase_refine_iters: int | None = None
) -> dict[str, Any]:
    """``item.src`` read, vocoded and written block by block (bounded memory; the input is resampled
    by the streaming sinc resampler instead of soxr)."""
    from audiokit.cli._common import STREAM_BLOCK_SECONDS
    from audiokit.io import BlockWriter, iter_blocks
    from audiokit.vocoders.streaming import vocode_blocks

    blocks = iter_blocks(item.src, int(STREAM_BLOCK_SECONDS * sample_rate))
    with BlockWriter(item.dst, model.sample_rate, 1) as out:
        for y in vocode_blocks(model, blocks, sample_rate, dtype, chunk_frames, phase_refine_iters):
            out.write(y)
    return {"streamed": True, "seconds_out": round(out.frames / model.sample_rate, 3)}


def run(args: argparse.Namespace) -> int:
    import functools

    from audiokit.batch import finish, open_job, run_batch
    from audiokit.cli import CLIError
    from audiokit.cli._common import collect_items
    from audiokit.device import resolve_precision
    from audiokit.io import AUDIO_EXTENSIONS

    checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    if not checkpoint.exists():
        hint = "" if args.checkpoint else " (the bundled default model is missing; pass --checkpoint)"
        raise CLIError(f"{checkpoint}: no such checkpoint{hint}")
    if not args.checkpoint and args.model not in (None, "apnet"):
        raise CLIError(
            f"the bundled default model is an APNet; pass --checkpoint PATH to vocode with {args.model}"
        )
    notes: list[str] = []  # the precision choice, printed once the job's rules have passed
    precision = resolve_precision(args.precision, announce=notes.append)
    spec = {
        "checkpoint": str(checkpoint),
        "model": args.model,
        "config": args.config,
        "precision": precision,
        "chunk_seconds": args.chunk_seconds,
        "stream": args.stream,
        "threads": args.threads,
        "phase_refine": args.phase_refine,
    }
    model = _model_for({k: spec[k] for k in ("checkpoint", "model", "config")})  # fail early on a bad model
    out_dir = Path(args.out_dir)
    items = collect_items(
        Path(args.in_dir), out_dir, args.shard, out_suffix=".wav", extensions=(*AUDIO_EXTENSIONS, ".npy")
    )
    if not items:
        raise CLIError(f"{args.in_dir}: no audio or .npy files found")
    base = {"model": model.model_type, "checkpoint": str(checkpoint), "precision": precision}
    settings = {k: spec[k] for k in ("checkpoint", "model", "config", "chunk_seconds")}
    if args.phase_refine is not None:  # (older jobs have no entry: the model's setting)
        settings["phase_refine"] = args.phase_refine
    if args.stream != "auto":  # (older jobs have no "stream" entry: auto)
        settings["stream"] = args.stream
    settings["precision"] = args.precision  # as requested ("auto" stays "auto"): shards on other CPUs
    with open_job(
        "vocode",
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
            functools.partial(vocode_file, spec=spec),
            manifest,
            workers=args.workers,
            force=args.force,
            progress=not args.no_progress,
            desc="vocode",
            base_record=base,
        )
    return finish(report, f"vocode ({model.model_type}, {model.sample_rate} Hz, {precision}): ")
