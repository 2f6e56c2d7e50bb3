"""Real recorded human speech for the vocoder and BWE recipes, from Debian's Fish Fillets voice-overs.

    python recipes/realspeech/prepare.py [--out data/realspeech] [--rates 16000] [--no-apt]

Installs ``fillets-ng-data-cs`` and ``fillets-ng-data-nl`` with apt-get (data preparation only;
never in tests or CI), decodes every OGG line, audits it (rate, channels, duration, peak and
clipping, level, silence, bandwidth, duplicates), keeps the usable lines, trims leading/trailing
silence, resamples with soxr (VHQ) and writes 16-bit wavs and file lists:

    OUT/<rate>/{train,val,test,test_unseen}/<level>__<line>.wav
    OUT/lists/{train,val,test,test_unseen}.txt     relative source paths, one per line
    OUT/audit.json                                 per-file audit and what was dropped, and why

Split (seeded, by utterance): the Czech lines (several voice actors, 22.05/44.1 kHz, energy to about
10 kHz) give ``train`` (about 94 %), ``val`` (24 lines) and ``test`` (60 lines; the same voices,
other utterances). ``test_unseen`` is speaker-disjoint: 60 lines of the Dutch voice-over (other voice
actors, another language, another studio), which no recipe trains on. The game's files share names
between the two languages (the same script line), never audio.

Licence: the Fish Fillets data is GPL-2 (Debian's copyright file, copied to ``OUT/COPYING.fillets``);
models trained on it say so in their cards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path("/usr/share/games/fillets-ng/sound")
PACKAGES = ("fillets-ng-data-cs", "fillets-ng-data-nl")
N_VAL, N_TEST, N_UNSEEN = 24, 60, 60
MIN_SECONDS, MAX_SECONDS = 0.8, 12.0
TOP_DB = 40.0  # silence threshold for trimming, below the file's peak


def install() -> None:
    """apt-get the voice-over packages if their files are not there (root, data preparation only)."""
    if all(any(ROOT.glob(f"*/{lang}/*.ogg")) for lang in ("cs", "nl")):
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True)


def band_edge_hz(x: np.ndarray, sr: int, fraction: float = 0.999) -> float:
    """Frequency below which ``fraction`` of the signal's energy lies (Welch spectrum)."""
    from scipy.signal import welch

    f, p = welch(x, sr, nperseg=1024)
    c = np.cumsum(p) / max(p.sum(), 1e-20)
    return float(f[min(np.searchsorted(c, fraction), len(f) - 1)])


def audit(path: Path) -> tuple[dict, np.ndarray | None, int]:
    """One file's audit row, its mono signal (first channel) and rate; ``None`` when unreadable."""
    row: dict = {"path": str(path.relative_to(ROOT))}
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # a damaged file is recorded, not fatal
        row["drop"] = f"unreadable: {e}"
        return row, None, 0
    row.update(sr=sr, channels=x.shape[1], seconds=round(x.shape[0] / sr, 3))
    # the Dutch files are 2-channel with different content per channel; averaging would comb-filter
    mono = x[:, 0].astype(np.float32)
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    row["peak"] = round(peak, 4)
    row["clipped_samples"] = int((np.abs(mono) >= 0.999).sum())
    rms = float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) if mono.size else 0.0
    row["rms_dbfs"] = round(20 * np.log10(max(rms, 1e-10)), 1)
    row["band_edge_hz"] = round(band_edge_hz(mono, sr)) if mono.size >= 1024 else 0
    row["sha1"] = hashlib.sha1(np.round(mono * 32767).astype(np.int16).tobytes()).hexdigest()
    return row, mono, sr


def trim(x: np.ndarray, sr: int) -> np.ndarray:
    """Leading/trailing silence removed (``TOP_DB`` below peak), 50 ms margin kept."""
    import librosa

    _, (a, b) = librosa.effects.trim(x, top_db=TOP_DB, frame_length=1024, hop_length=256)
    m = int(0.05 * sr)
    return x[max(a - m, 0) : min(b + m, len(x))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/realspeech")
    ap.add_argument("--rates", default="16000", help="comma-separated output rates (e.g. 16000,22050)")
    ap.add_argument("--no-apt", action="store_true", help="do not try to install the packages")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.no_apt:
        install()
    rates = [int(r) for r in args.rates.split(",")]
    out = Path(args.out)
    rows, kept, seen = [], {"cs": [], "nl": []}, {}
    for lang in ("cs", "nl"):
        for path in sorted(ROOT.glob(f"*/{lang}/*.ogg")):
            row, x, sr = audit(path)
            row["lang"] = lang
            rows.append(row)
            if x is None:
                continue
            if row["sha1"] in seen:
                row["drop"] = f"duplicate of {seen[row['sha1']]}"
                continue
            seen[row["sha1"]] = row["path"]
            if row["clipped_samples"] > 10:
                row["drop"] = f"clipped ({row['clipped_samples']} samples at full scale)"
                continue
            y = trim(x, sr)
            row["trimmed_seconds"] = round(len(y) / sr, 3)
            if not MIN_SECONDS <= len(y) / sr <= MAX_SECONDS:
                row["drop"] = (
                    f"length {len(y) / sr:.2f} s after trimming outside [{MIN_SECONDS}, {MAX_SECONDS}]"
                )
                continue
            if row["rms_dbfs"] < -50:
                row["drop"] = f"too quiet ({row['rms_dbfs']} dBFS)"
                continue
            kept[lang].append((row, y, sr))
    rng = random.Random(args.seed)
    cs = kept["cs"][:]
    rng.shuffle(cs)
    nl = kept["nl"][:]
    rng.shuffle(nl)
    splits = {
        "val": cs[:N_VAL],
        "test": cs[N_VAL : N_VAL + N_TEST],
        "train": cs[N_VAL + N_TEST :],
        "test_unseen": nl[:N_UNSEEN],
    }
    (out / "lists").mkdir(parents=True, exist_ok=True)
    summary = {}
    for split, items in splits.items():
        items.sort(key=lambda t: t[0]["path"])
        names = []
        for row, y, sr in items:
            row["split"] = split
            level, _, line = row["path"].split("/")
            name = f"{level}__{Path(line).stem}.wav"
            names.append(row["path"])
            for rate in rates:
                d = out / str(rate) / split
                d.mkdir(parents=True, exist_ok=True)
                z = soxr.resample(y, sr, rate, quality="VHQ") if sr != rate else y
                peak = float(np.abs(z).max())
                if peak > 0.999:  # resampling overshoot
                    z = z * (0.999 / peak)
                sf.write(str(d / name), z, rate, subtype="PCM_16")
        (out / "lists" / f"{split}.txt").write_text("\n".join(names) + "\n")
        summary[split] = {
            "files": len(items),
            "minutes": round(sum(len(y) / sr for _, y, sr in items) / 60, 2),
            "source_rates": sorted({sr for _, _, sr in items}),
        }
    dropped = [r for r in rows if "drop" in r]
    reasons: dict[str, int] = {}
    for r in dropped:
        key = r["drop"].split(" ")[0].rstrip(":")
        reasons[key] = reasons.get(key, 0) + 1
    report = {
        "source": "Debian packages " + ", ".join(PACKAGES) + " (Fish Fillets NG voice-overs, GPL-2)",
        "files_read": len(rows),
        "dropped": reasons,
        "splits": summary,
        "band_edge_hz_median": {
            lang: float(np.median([r["band_edge_hz"] for r in rows if r["lang"] == lang and "sr" in r]))
            for lang in ("cs", "nl")
        },
        "files": rows,
    }
    (out / "audit.json").write_text(json.dumps(report, indent=1) + "\n")
    copying = Path("/usr/share/doc/fillets-ng-data-cs/copyright")
    if copying.exists():
        shutil.copy(copying, out / "COPYING.fillets")
    print(json.dumps({k: v for k, v in report.items() if k != "files"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
