"""``audiokit masker rank|mix``: choose a masker and its gain for a soundscape, and listen to a choice.

``rank`` predicts the ISO pleasantness of every masker x gain pair with the feature-domain model and
writes the ranking (best first) as CSV; ``mix`` renders one pair as audio (waveform domain).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

from audiokit.cli._common import (
    add_stream_argument,
    check_gain_db,
    existing_dir,
    existing_file,
    finite_float,
    gain_db,
    nonneg_int,
    parse_range,
)

DEFAULT_GAINS = "-6:6:1"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "masker",
        help="soundscape augmentation: rank maskers x gains by predicted pleasantness, or mix one",
        description="Joint masker and gain selection (Watcharasupat et al., IEEE SPL 2022) with "
        "feature-domain mixing.",
    )
    msub = p.add_subparsers(dest="masker_command", metavar="{rank,mix}")
    msub.required = True

    r = msub.add_parser(
        "rank",
        help="rank every masker x gain pair for a soundscape",
        description="Encodes the soundscape once and every masker once, evaluates all masker x gain "
        "pairs in batched passes of the model, and writes the ranking (best first).",
    )
    r.add_argument("soundscape", metavar="SOUNDSCAPE.wav", help="binaural (or mono) recording of the place")
    r.add_argument("--maskers", required=True, metavar="DIR", help="folder of masker audio files (recursive)")
    r.add_argument(
        "--gains",
        default=DEFAULT_GAINS,
        help=f"gains in dB, start:stop:step or a,b,c (default {DEFAULT_GAINS})",
    )
    r.add_argument(
        "--gain-reference",
        choices=["digital", "smr"],
        default="digital",
        help="digital: gain applied to the masker file; smr: gains are soundscape-to-masker ratios "
        "(A-weighted levels), as ARAUS (default digital)",
    )
    r.add_argument("--model", default=None, help="model folder or bundled name (default masker_tiny)")
    r.add_argument("--out", default=None, help="CSV of every pair (default: print only)")
    r.add_argument("--select", choices=["mean", "risk"], default="mean", help="rank by mean or mean - k*std")
    add_stream_argument(
        r, "features equal to the whole-file ones, A-weighted levels within 0.02 dB, by 1.5 s frames"
    )
    r.add_argument("--risk-k", type=finite_float, default=1.0, help="k of the risk-aware score (default 1)")
    r.add_argument(
        "--threshold", type=finite_float, default=0.0, help="pleasantness threshold of p_exceed (default 0)"
    )
    r.add_argument(
        "--soundscape-gain-db",
        type=gain_db,
        default=0.0,
        help="gain applied to the soundscape first (level calibration to the model's convention)",
    )
    r.add_argument("--top", type=nonneg_int, default=10, help="rows to print (default 10)")
    r.add_argument(
        "--cache",
        default=None,
        metavar="BANK.safetensors",
        help="reuse/store the masker features in this file",
    )
    # let "--gains -6:6:1" read as a value, not as an option (argparse only knows "-6" and "-0.5")
    r._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-\d[\d.:,eE\-]*$")
    r.set_defaults(func=run_rank)

    m = msub.add_parser(
        "mix",
        help="mix a masker into a soundscape at a gain (to listen to a choice)",
        description="Waveform mix soundscape + 10^(G/20) * masker; a mono masker is added to every channel "
        "and looped or cropped to the soundscape's length.",
    )
    m.add_argument("soundscape", metavar="SOUNDSCAPE.wav")
    m.add_argument("masker", metavar="MASKER.wav")
    m.add_argument("out", metavar="OUT.wav")
    m.add_argument("--gain-db", type=gain_db, required=True, help="masker gain in dB (or the SMR, see below)")
    m.add_argument(
        "--gain-reference",
        choices=["digital", "smr"],
        default="digital",
        help="digital: --gain-db applies to the masker file; smr: --gain-db is the soundscape-to-masker "
        "ratio (A-weighted levels)",
    )
    m.add_argument(
        "--soundscape-gain-db", type=gain_db, default=0.0, help="gain applied to the soundscape first"
    )
    m.add_argument(
        "--rescale", action="store_true", help="scale the mix down to peak 0.99 instead of clipping"
    )
    m.add_argument("--force", action="store_true", help="overwrite OUT.wav if it exists")
    m.set_defaults(func=run_mix)


def _load_bank(args: argparse.Namespace, n_samples: int, streamed: bool = False):
    """The masker bank for ``args.maskers``, reused from ``--cache`` when its sources still match."""
    import os

    from audiokit.batch import find_audio
    from audiokit.cli import CLIError
    from audiokit.soundscape import MaskerBank

    folder = existing_dir(args.maskers)
    files = find_audio(folder)
    if not files:
        raise CLIError(f"{folder}: no audio files found")
    sources = {}
    for f in files:
        st = os.stat(folder / f)
        sources[str(f)] = f"{st.st_size}:{st.st_mtime_ns}"
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.is_file():
        try:
            bank, old = MaskerBank.load(cache)
        except ValueError as e:
            raise CLIError(str(e)) from None
        if old == sources and bank.n_samples >= n_samples:
            note = "could not be read (cached result; delete the cache to retry)"
            bank.failures = {k: note for k in sources if k not in bank.names}
            return bank
    bank = MaskerBank.from_files([folder / f for f in files], n_samples, root=folder, streamed=streamed)
    if cache is not None:
        bank.save(cache, sources)
    return bank


def run_rank(args: argparse.Namespace) -> int:
    import numpy as np

    from audiokit.batch import prepare_out_file, printable
    from audiokit.cli import CLIError
    from audiokit.cli._common import STREAM_BLOCK_SECONDS, streams
    from audiokit.io import info, iter_blocks, load
    from audiokit.soundscape import ARAUS_SAMPLE_RATE, load_model, rank_maskers, rank_maskers_stream

    path = existing_file(args.soundscape)
    gains = parse_range(args.gains)
    if not gains:
        raise CLIError(f"--gains {args.gains!r}: need at least one gain")
    for g in gains:
        check_gain_db(g, f"--gains {args.gains!r}")
    if args.out:
        prepare_out_file(args.out)  # a folder or an unwritable place fails before the ranking
    try:
        model = load_model(args.model)
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None
    try:
        meta = info(path)
    except ValueError as e:
        raise CLIError(str(e)) from None
    sr = meta.sample_rate
    n = round(meta.frames * ARAUS_SAMPLE_RATE / sr) if sr != ARAUS_SAMPLE_RATE else meta.frames
    streamed = streams(args.stream, meta.duration)
    bank = _load_bank(args, n, streamed)
    options = dict(
        model=model,
        select=args.select,
        risk_k=args.risk_k,
        threshold=args.threshold,
        gain_reference=args.gain_reference,
        soundscape_gain_db=args.soundscape_gain_db,
    )
    if streamed:  # read block by block: memory bounded by the block, not the recording
        blocks = iter_blocks(path, int(STREAM_BLOCK_SECONDS * sr))
        ranking = rank_maskers_stream(blocks, sr, bank, np.asarray(gains), **options)
    else:
        wav, _ = load(path)
        ranking = rank_maskers(wav, sr, bank, np.asarray(gains), **options)
    score = "mean" if args.select == "mean" else f"mean - {args.risk_k:g}*std"
    print(f"{path.name}: {len(bank)} maskers x {len(gains)} gains, ranked by {score}")
    p_col = f"P(>{args.threshold:g})"
    print(f"{'rank':>4}  {'masker':<32} {'gain dB':>8} {'SMR dB':>7} {'mean':>7} {'std':>6} {p_col:>8}")
    for r in ranking.top(args.top):
        print(
            f"{r.rank:>4}  {r.masker[:32]:<32} {r.gain_db:>8.2f} {r.smr_db:>7.2f} {r.mean:>7.3f} "
            f"{r.std:>6.3f} {r.p_exceed:>8.3f}"
        )
    if args.out:
        out = ranking.to_csv(args.out)
        print(f"wrote {out} ({len(ranking.rows)} rows)")
    for name, err in ranking.failures.items():
        print(f"  failed: {printable(name)}: {printable(err)}", file=sys.stderr)
    return 1 if ranking.failures else 0


def run_mix(args: argparse.Namespace) -> int:
    import torch

    from audiokit.batch import prepare_out_file
    from audiokit.cli import CLIError
    from audiokit.io import load, resample, save
    from audiokit.soundscape import fit_length, leq_db, mix_waveforms
    from audiokit.soundscape.ranking import check_masker_length

    s_path, m_path = existing_file(args.soundscape), existing_file(args.masker)
    out = prepare_out_file(args.out)
    if out.exists() and not args.force:
        raise CLIError(f"{out}: exists (use --force to overwrite)")
    s, sr = load(s_path)
    m, msr = load(m_path, mono=True)
    check_masker_length(m.shape[-1], msr, str(m_path))
    if msr != sr:
        m = resample(m, msr, sr)
    s = s * 10.0 ** (args.soundscape_gain_db / 20.0)
    m = fit_length(m, s.shape[-1])  # looped or cropped, as it will be heard
    gain = args.gain_db
    if args.gain_reference == "smr":
        lm = leq_db(m, sr, name=str(m_path))
        if not math.isfinite(lm):
            raise CLIError(f"{m_path}: silent masker; an SMR is undefined")
        gain = leq_db(s, sr, name=str(s_path)) - lm - args.gain_db
    y = mix_waveforms(s, m, gain)
    peak = float(y.abs().max())
    if peak > 1.0 and args.rescale:
        y = y * (0.99 / peak)
    elif peak > 1.0:
        print(f"warning: mix peaks at {peak:.3f}; clipped (use --rescale to scale it down)")
        y = torch.clamp(y, -1.0, 1.0)
    save(out, y, sr)
    print(f"wrote {out}: {s_path.name} + {m_path.name} at {gain:+.2f} dB ({sr} Hz, {y.shape[0]} ch)")
    return 0
