"""Generate the speech of the tiny AP-BWE recipe with festival and espeak-ng (16 kHz wavs).

Usage (repository root; needs ``apt-get install festival festvox-us-slt-hts festvox-kallpc16k
espeak-ng``; a few minutes on 2 cores, run it under the shared lock)::

    flock /tmp/audiokit-heavy.lock python recipes/ap_bwe_tiny/make_speech.py [--out data/ap_bwe_tiny]

Sentences are drawn deterministically (seed 7) from small word lists; test sentences never occur
in training. Voices: festival ``cmu_us_slt_arctic_hts`` (female, 45 %), ``kal_diphone`` (male,
25 %) and espeak-ng (30 %: several English accents, male and female variants, random pitch and
speed). Every file is resampled to 16 kHz with soxr (so it has content up to 8 kHz, the band the
8k -> 16k model learns to restore) and peak-normalised to a random level in [-8, -1] dBFS.
Writes ``OUT/train/*.wav``, ``OUT/test/*.wav`` and ``OUT/sentences.tsv``.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WHO = [
    "the captain", "a young painter", "my grandmother", "the night nurse", "our landlord", "the new pilot",
    "a shy waiter", "the gardener", "her cousin", "the brown dog", "a clever parrot", "the choir",
    "his uncle", "the jeweller", "a fisherman", "the librarian", "the short man", "a nervous actor",
    "the mayor", "your sister", "the old miner", "a cheerful cook",
]  # fmt: skip
DID = [
    "repaired", "delivered", "noticed", "painted", "polished", "ordered", "returned", "measured",
    "borrowed", "weighed", "carried", "wrapped", "ignored", "tasted", "folded", "emptied", "sorted",
    "stacked", "dusted", "found",
]  # fmt: skip
WHAT = [
    "the copper kettle", "a striped umbrella", "the narrow ladder", "six ripe pears", "the velvet coat",
    "a dusty violin", "the golden ring", "nine clay pots", "the chess board", "a frozen fish",
    "the leather saddle", "twelve candles", "the oak bench", "a crystal vase", "the fishing net",
    "three brass bells", "the marble statue", "a woollen scarf", "the rusty bicycle", "a basket of plums",
]  # fmt: skip
WHERE = [
    "by the harbour", "after lunch", "at sunrise", "before the concert", "inside the tent", "on the bus",
    "near the fountain", "in the attic", "during the parade", "across the valley", "at midnight",
    "behind the church", "in the cellar", "along the canal", "after the match", "at the bakery",
]  # fmt: skip
ESPEAK = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us+f3", "en-gb+f2", "en-us+m3"]


def sentences(n: int, rng: random.Random, avoid: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        a, v, o, p = (rng.choice(x) for x in (WHO, DID, WHAT, WHERE))
        r = rng.random()
        if r < 0.55:
            s = f"{a.capitalize()} {v} {o} {p}."
        elif r < 0.75:
            s = f"Did {a} say that {o} was {v} {p}?"
        else:
            s = f"{a.capitalize()} {v} {o}, while {rng.choice(WHO)} {rng.choice(DID)} {rng.choice(WHAT)}."
        if s not in avoid and s not in out:
            out.append(s)
    return out


def synthesise(text: str, voice: str, dst: Path, rng: random.Random) -> None:
    if voice in ("slt", "kal"):
        scheme = "(voice_cmu_us_slt_arctic_hts)" if voice == "slt" else "(voice_kal_diphone)"
        subprocess.run(["text2wave", "-eval", scheme, "-o", str(dst)], input=text.encode(), check=True)
    else:
        cmd = ["espeak-ng", "-v", voice, "-s", str(rng.randint(135, 185)), "-p", str(rng.randint(30, 70))]
        subprocess.run([*cmd, "-w", str(dst), text], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/ap_bwe_tiny")
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--test", type=int, default=24)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from audiokit.io import load, save

    rng = random.Random(7)
    test = sentences(args.test, rng, set())
    train = sentences(args.train, rng, set(test))
    out = Path(args.out)
    jobs = []
    for split, texts in (("train", train), ("test", test)):
        for i, text in enumerate(texts):
            r = rng.random()
            voice = "slt" if r < 0.45 else "kal" if r < 0.7 else rng.choice(ESPEAK)
            jobs.append((split, i, text, voice, rng.uniform(-8, -1), rng.randrange(1 << 30)))

    def run(job) -> str:
        split, i, text, voice, peak_db, seed = job
        dst = out / split / f"{split}_{i:04d}.wav"
        if not dst.exists():
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "raw.wav"
                synthesise(text, voice, raw, random.Random(seed))
                wav, _ = load(raw, sr=16000, mono=True)
                save(dst, wav * (10 ** (peak_db / 20) / wav.abs().max().clamp_min(1e-6)), 16000)
        return f"{split}\t{dst.name}\t{voice}\t{text}"

    with ThreadPoolExecutor(args.jobs) as ex:
        rows = list(ex.map(run, jobs))
    (out / "sentences.tsv").write_text(
        "split\tfile\tvoice\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(train)} train and {len(test)} test utterances under {out}")


if __name__ == "__main__":
    main()
