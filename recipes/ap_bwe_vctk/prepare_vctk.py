"""Prepare VCTK-0.92 for the AP-BWE recipes: the official speaker split, mic1, 48 kHz and 16 kHz wavs.

Usage (repository root)::

    python recipes/ap_bwe_vctk/prepare_vctk.py --vctk /data/VCTK-Corpus-0.92 \\
        --silence-labels /data/vctk-silence-labels/vctk-silences.0.92.txt [--out data/vctk] [--workers 8]

What it writes (as the official ``VCTK-Corpus-0.92/flac2wav.py`` plus the split of
``training.txt``/``test.txt``):

* ``OUT/wav48/train/<id>.wav``: the ``*_mic1.flac`` files of the 100 training speakers (all speakers
  except the 8 test speakers and p280/p315, which the official ``training.txt`` leaves out), read at
  48 kHz, leading/trailing silence trimmed with the ASR-based labels
  (``vctk-silences.0.92.txt``, 0.1 s margin kept on each side), 16-bit PCM;
* ``OUT/wav48/test/<id>.wav``: the 8 test speakers p360, p361, p362, p363, p364, p374, p376, s5
  (2,937 files in the official list), trimmed the same way where labels exist (the official script
  trims every labelled file; s5 has no labels). ``--untrimmed-test`` keeps them whole instead (the
  AP-BWE reference notes describe the test files as untrimmed; the official scripts are ambiguous);
* ``OUT/wav16/{train,test}/<id>.wav``: the same resampled to 16 kHz with torchaudio's sinc resampler
  (:func:`audiokit.frontend.sinc_resample`), the targets of the 16 kHz presets.

Without ``--silence-labels`` training files are kept untrimmed (a warning says so).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

TEST_SPEAKERS = ("p360", "p361", "p362", "p363", "p364", "p374", "p376", "s5")
EXCLUDED_SPEAKERS = ("p280", "p315")  # absent from the official training list
NAME = re.compile(r"^(?P<id>(?P<spk>[ps]\d+)_\d+)_mic1$")


def read_labels(path: Path | None, sr: int = 48000) -> dict[str, tuple[int, int]]:
    """``{utterance id: (start, end)}`` in samples from ``vctk-silences.0.92.txt``."""
    if path is None:
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[0]] = (int(float(parts[1]) * sr), int(float(parts[2]) * sr))
    return out


def convert(job: dict) -> dict:
    """Worker: one flac -> 48 kHz (trimmed when labelled) and 16 kHz wavs."""
    import librosa
    import torch

    from audiokit.frontend import sinc_resample
    from audiokit.io import save

    y, _ = librosa.load(job["src"], sr=48000, mono=True)
    if job["trim"] is not None:
        start, end = job["trim"]
        margin = int(0.1 * 48000)
        start, end = start - min(start, margin), end + min(len(y) - end, margin)
        y = y[start:end]
    wav = torch.from_numpy(y).float()
    save(job["dst48"], wav, 48000, subtype="PCM_16")
    # the 16 kHz target is made from the 16-bit file, as reading wav48 would give
    wav16 = torch.from_numpy((wav.clamp(-1, 1) * 32767).round().numpy() / 32768.0).float()
    save(job["dst16"], sinc_resample(wav16, 48000, 16000), 16000, subtype="PCM_16")
    return {"seconds": round(len(y) / 48000, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vctk", required=True, help="VCTK-Corpus-0.92 root (with wav48_silence_trimmed/)")
    ap.add_argument("--silence-labels", default=None, help="vctk-silences.0.92.txt (nii-yamagishilab)")
    ap.add_argument("--out", default="data/vctk")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--untrimmed-test", action="store_true", help="do not trim the test speakers' files")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from audiokit.batch import map_parallel

    root = Path(args.vctk)
    src_dirs = [d for d in (root / "wav48_silence_trimmed", root / "wav48_origin", root) if d.is_dir()]
    flacs = sorted(p for p in src_dirs[0].glob("*/*_mic1.flac"))
    if not flacs:
        print(f"no */*_mic1.flac files under {src_dirs[0]}", file=sys.stderr)
        return 2
    labels = read_labels(Path(args.silence_labels) if args.silence_labels else None)
    if not labels:
        logging.warning("no silence labels: files stay untrimmed (the official ones are trimmed)")
    out = Path(args.out)
    jobs = []
    for f in flacs:
        m = NAME.match(f.stem)
        if not m or m["spk"] in EXCLUDED_SPEAKERS:
            continue
        split = "test" if m["spk"] in TEST_SPEAKERS else "train"
        trim = None if split == "test" and args.untrimmed_test else labels.get(m["id"])
        jobs.append(
            {
                "src": str(f),
                "dst48": str(out / "wav48" / split / f"{m['id']}.wav"),
                "dst16": str(out / "wav16" / split / f"{m['id']}.wav"),
                "trim": trim,
            }
        )
    todo = [j for j in jobs if not (Path(j["dst48"]).exists() and Path(j["dst16"]).exists())]
    failed = 0
    for job, ok, res, _ in map_parallel(convert, todo, workers=args.workers, desc="vctk"):
        if not ok:
            failed += 1
            logging.error("%s: %s", job["src"], res)
    n_train = sum("/train/" in j["dst48"] for j in jobs)
    print(f"{n_train} training and {len(jobs) - n_train} test utterances under {out} ({failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
