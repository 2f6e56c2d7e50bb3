"""``audiokit synth``: DDSP synthesis from the shell.

* ``audiokit synth timbre-transfer IN OUT --model DIR [--pitch-shift SEMITONES]``: re-render a
  monophonic recording (or every file of a folder) with a trained DDSP model's timbre.
* ``audiokit synth notes OUT.wav --f0 A4,C5,E5 --duration 0.5``: render a note sequence, with a
  model or with the built-in harmonic-plus-noise synthesizer.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from audiokit.cli import CLIError
from audiokit.cli._common import (
    add_batch_arguments,
    add_stream_argument,
    check_gain_db,
    collect_items,
    existing_file,
    finite_float,
    gain_db,
    nonneg_float,
    positive_int,
    seed,
)

#: Longest ``synth notes`` output in seconds at 16 kHz (the audio is rendered and written block by
#: block, but the frame-rate controls are built whole; the cap keeps absurd durations from filling the
#: disk). Higher rates allow proportionally less.
MAX_NOTES_SECONDS = 3600.0
MAX_NOTES_SAMPLES = int(MAX_NOTES_SECONDS * 16000)
#: Largest ``--pitch-shift`` magnitude in semitones (eight octaves).
MAX_PITCH_SHIFT = 96.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="DDSP synthesis: timbre transfer with a trained model, or notes from pitch and loudness",
        description="DDSP (differentiable harmonic-plus-noise) synthesis.",
    )
    ss = p.add_subparsers(dest="synth_command", metavar="SUBCOMMAND")
    ss.required = True

    tt = ss.add_parser(
        "timbre-transfer",
        help="re-render monophonic audio with a DDSP model's timbre",
        description="Extracts f0 (pYIN) and loudness from IN, optionally shifts pitch and loudness, and "
        "renders them with the model. IN and OUT are files, or folders (every audio file under IN is "
        "rendered to the same relative path under OUT, resumably).",
    )
    tt.add_argument("input", metavar="IN", help="input audio file or folder")
    tt.add_argument("output", metavar="OUT", help="output wav file or folder")
    tt.add_argument(
        "--model",
        required=True,
        metavar="DIR",
        help="DDSP model directory or bundled name (ddsp_violin, ddsp_flute, ddsp_tiny)",
    )
    tt.add_argument(
        "--pitch-shift",
        type=pitch_shift,
        default=0.0,
        metavar="SEMITONES",
        help="transpose the input pitch (on top of the automatic octave shift)",
    )
    tt.add_argument(
        "--loudness-shift",
        type=gain_db,
        default=None,
        metavar="DB",
        help="add DB to the input loudness instead of the automatic loudness matching",
    )
    tt.add_argument(
        "--no-auto-adjust",
        action="store_true",
        help="keep the input's register and loudness (default: shift by octaves to the instrument's register "
        "and match the loudness distribution of its training data, as magenta's timbre-transfer notebook)",
    )
    tt.add_argument(
        "--quiet-db",
        type=nonneg_float,
        default=20.0,
        help="attenuation of unvoiced frames in dB (default 20)",
    )
    tt.add_argument(
        "--mix-down", action="store_true", help="average multichannel input to mono (else an error)"
    )
    tt.add_argument("--seed", type=seed, default=0, help="noise seed (default 0)")
    add_stream_argument(tt)
    add_batch_arguments(tt)
    tt.set_defaults(func=run_timbre_transfer)

    nt = ss.add_parser(
        "notes",
        help="render a sequence of notes",
        description="Renders notes given as note names (A4, C#5), MIDI numbers (m69) or Hz (440). "
        "Without --model the built-in harmonic synthesizer is used.",
    )
    nt.add_argument("output", metavar="OUT.wav")
    nt.add_argument("--f0", required=True, help="comma-separated notes: A4,C#5 or m69 or 440")
    nt.add_argument(
        "--duration",
        default="0.5",
        help="seconds per note: one value or one per note "
        f"(default 0.5; at most {MAX_NOTES_SECONDS:g} s in all)",
    )
    nt.add_argument("--loudness", default="-20", help="dB per note: one value or one per note (default -20)")
    nt.add_argument("--model", default=None, metavar="DIR", help="render with this DDSP model")
    nt.add_argument("--sample-rate", type=positive_int, default=16000, help="without --model (default 16000)")
    nt.add_argument("--vibrato-cents", type=nonneg_float, default=0.0, help="vibrato depth (default 0)")
    nt.add_argument("--vibrato-hz", type=nonneg_float, default=5.5, help="vibrato rate (default 5.5)")
    nt.add_argument(
        "--glide-ms", type=nonneg_float, default=30.0, help="portamento between notes (default 30)"
    )
    nt.add_argument("--seed", type=seed, default=0, help="noise seed (default 0)")
    nt.set_defaults(func=run_notes)


def pitch_shift(text: str) -> float:
    """``type=`` of ``--pitch-shift``: finite, within +-:data:`MAX_PITCH_SHIFT` semitones."""
    v = finite_float(text)
    if abs(v) > MAX_PITCH_SHIFT:
        raise argparse.ArgumentTypeError(f"must be within +-{MAX_PITCH_SHIFT:g} semitones, got {text!r}")
    return v


# timbre transfer ---------------------------------------------------------------------------------------
_MODEL_CACHE: dict[str, object] = {}


def _load_model(model_dir: str):
    from audiokit.ddsp.model import DDSPAutoencoder

    if model_dir not in _MODEL_CACHE:
        _MODEL_CACHE[model_dir] = DDSPAutoencoder.from_pretrained(model_dir)
    return _MODEL_CACHE[model_dir]


def _transfer_one(job: dict) -> dict:
    """Load, render and save one file (top level so that worker processes can pickle it).

    Streamed files (``--stream``) are read, analysed, rendered and written block by block
    (:meth:`~audiokit.ddsp.model.DDSPAutoencoder.timbre_transfer_blocks`), so memory is bounded by
    the block; the output equals the whole-file render to float rounding. Either way the output is
    scaled down to a 0.999 peak when it would exceed it.
    """
    from audiokit.cli._common import STREAM_BLOCK_SECONDS, streams
    from audiokit.io import info, iter_blocks, load, save, write_blocks

    model = _load_model(job["model"])
    meta = info(job["src"])
    if meta.channels > 1 and not job["mix_down"]:
        raise ValueError(f"{job['src']}: expected mono audio, got {meta.channels} channels (use --mix-down)")
    settings = {k: job[k] for k in ("pitch_shift", "loudness_shift", "auto_adjust", "quiet_db", "seed")}
    sr_out = model.config.sample_rate
    if model.encoder is None and streams(job.get("stream", "off"), meta.duration):
        blocks = (b.mean(0) for b in iter_blocks(job["src"], int(STREAM_BLOCK_SECONDS * meta.sample_rate)))
        audio = model.timbre_transfer_blocks(blocks, meta.sample_rate, **settings)
        report = write_blocks(job["dst"], (y[None] for y in audio), sr_out, 1, peak="limit", ceiling=0.999)
        frames = info(job["dst"]).frames
        return {"streamed": True, "seconds_out": round(frames / sr_out, 3), "peak": round(report["peak"], 4)}
    wav, sr = load(job["src"])
    y = model.timbre_transfer(wav.mean(0), sr, **settings)
    peak = float(y.abs().max())
    if peak > 0.999:
        y = y * (0.999 / peak)
    save(job["dst"], y[None], sr_out)
    return {"seconds_out": round(y.numel() / sr_out, 3), "peak": round(peak, 4)}


def _batch_fn(item) -> dict:
    return _transfer_one({**item.meta["job"], "src": item.src, "dst": item.dst})


def run_timbre_transfer(args: argparse.Namespace) -> int:
    from audiokit.batch import check_in_out, finish, open_job, run_batch

    src = Path(args.input)
    if not src.exists():
        raise CLIError(f"{src}: no such file or directory")
    check_in_out(src, args.output)  # before the model loads: never write over the input
    try:
        _load_model(args.model)  # fail early, once, with a clear message
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None
    job = {
        "model": args.model,
        "pitch_shift": args.pitch_shift,
        "loudness_shift": args.loudness_shift,
        "auto_adjust": not args.no_auto_adjust,
        "quiet_db": args.quiet_db,
        "seed": args.seed,
        "mix_down": args.mix_down,
    }
    settings = dict(job)
    if args.stream != "auto":  # (older jobs have no "stream" entry: auto)
        settings["stream"] = args.stream
    job["stream"] = args.stream
    if src.is_file():
        out = Path(args.output)
        if out.is_dir():
            raise CLIError(f"{out}: is a directory; give an output file for a single input file")
        _transfer_one({**job, "src": str(existing_file(args.input)), "dst": args.output})
        print(f"wrote {args.output}")
        return 0
    out_dir = Path(args.output)
    items = collect_items(src, out_dir, args.shard, out_suffix=".wav")
    if not items:
        raise CLIError(f"{src}: no audio files found")
    for it in items:
        it.meta["job"] = job
    with open_job(
        "synth timbre-transfer",
        out_dir,
        settings,
        items=items,
        in_dir=src,
        force=args.force,
        shard_spec=args.shard,
    ) as manifest:
        report = run_batch(
            items,
            _batch_fn,
            manifest,
            workers=args.workers,
            force=args.force,
            progress=not args.no_progress,
            desc="timbre-transfer",
            base_record={k: v for k, v in job.items() if k not in ("mix_down", "stream")},
        )
    return finish(report, "timbre-transfer: ")


# notes ---------------------------------------------------------------------------------------------------
def _parse_note(token: str) -> float:
    import librosa

    t = token.strip()
    if not t:
        raise CLIError("empty note in --f0")
    try:
        if t[0] in "mM" and t[1:].replace(".", "", 1).isdigit():
            hz = float(440.0 * 2.0 ** ((float(t[1:]) - 69.0) / 12.0))
        else:
            hz = float(t)
    except (ValueError, OverflowError):
        pass
    else:
        if not (math.isfinite(hz) and hz > 0):
            raise CLIError(f"bad note {t!r} in --f0: a frequency must be a positive finite number of Hz")
        return hz
    try:
        return float(librosa.note_to_hz(t))
    except Exception:
        raise CLIError(f"bad note {t!r} in --f0: use a name (A4, C#5), m<MIDI> (m69) or Hz (440)") from None


def _per_note(spec: str, n: int, name: str) -> list[float]:
    try:
        vals = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise CLIError(f"bad {name} {spec!r}: use a number or a comma-separated list") from None
    if not vals or not all(math.isfinite(v) for v in vals):
        raise CLIError(f"bad {name} {spec!r}: values must be finite numbers")
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise CLIError(f"{name} has {len(vals)} values for {n} notes")
    return vals


def run_notes(args: argparse.Namespace) -> int:
    import torch

    from audiokit.ddsp.api import notes_to_controls, synthesize_blocks
    from audiokit.ddsp.streaming import render_blocks
    from audiokit.io import write_blocks

    notes = [_parse_note(t) for t in args.f0.split(",")]
    durations = _per_note(args.duration, len(notes), "--duration")
    loudness = _per_note(args.loudness, len(notes), "--loudness")
    if any(d <= 0 for d in durations):
        raise CLIError("--duration values must be positive")
    if sum(durations) > MAX_NOTES_SECONDS:  # before anything is loaded or allocated
        raise CLIError(f"--duration: {sum(durations):g} s in all; at most {MAX_NOTES_SECONDS:g} s per call")
    for ld in loudness:
        check_gain_db(ld, "--loudness")
    if args.model:
        try:
            model = _load_model(args.model)
        except FileNotFoundError as e:
            raise CLIError(str(e)) from None
        sr, frame_rate = model.config.sample_rate, model.config.frame_rate
    else:
        model, sr, frame_rate = None, args.sample_rate, 250
        if sr % frame_rate:
            raise CLIError(f"--sample-rate must be a multiple of {frame_rate}")
    if sum(durations) * sr > MAX_NOTES_SAMPLES:
        limit = MAX_NOTES_SAMPLES / sr
        raise CLIError(f"--duration: {sum(durations):g} s in all; at most {limit:g} s at {sr} Hz per call")
    if max(notes) >= sr / 2:
        raise CLIError(f"a note of {max(notes):.0f} Hz is at or above Nyquist ({sr / 2:.0f} Hz)")
    f0, ld = notes_to_controls(
        notes,
        durations,
        loudness,
        frame_rate,
        args.glide_ms,
        vibrato_cents=args.vibrato_cents,
        vibrato_hz=args.vibrato_hz,
    )
    gen = torch.Generator().manual_seed(args.seed)
    # rendered and written block by block (memory bounded by the block), scaled to a 0.999 peak
    if model is None:
        blocks = synthesize_blocks(f0[None], ld[None], sample_rate=sr, frame_rate=frame_rate, generator=gen)
    else:
        blocks = render_blocks(model, f0[None], ld[None], generator=gen)
    try:
        write_blocks(args.output, blocks, sr, 1, peak="limit", ceiling=0.999)
    except ValueError as e:
        raise CLIError(str(e)) from None
    print(f"wrote {args.output} ({f0.numel() * (sr // frame_rate) / sr:.2f} s at {sr} Hz)")
    return 0
