"""Synthesise the training and test speech of the tiny APNet recipe with festival and espeak-ng.

Usage (from the repository root; needs ``apt-get install festival festvox-us-slt-hts festvox-kallpc16k
espeak-ng``; about 3 minutes on 2 cores)::

    python recipes/apnet_tiny/make_data.py [--out data/apnet_tiny] [--train 480] [--test 24]

Sentences are made deterministically (seed 0) from small word lists; the test sentences are
disjoint from the training ones. Voices: festival's ``cmu_us_slt_arctic_hts`` (female, HTS; 60 % of
the items), ``kal_diphone`` (male, diphone; 20 %) and espeak-ng (formant; 20 %, several accents,
random pitch and rate). Every file is resampled to 16 kHz (soxr) and peak-normalised to a random
level in [-6, -1] dBFS. Writes ``OUT/train/*.wav``, ``OUT/test/*.wav`` and ``OUT/sentences.tsv``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SUBJECTS = [
    "the old man", "a small child", "my sister", "the tired driver", "our neighbour", "the young doctor",
    "a quiet student", "the farmer", "his brother", "the red fox", "a grey cat", "the team", "her father",
    "the baker", "a sailor", "the teacher", "the tall woman", "a busy clerk", "the pilot", "my friend",
]  # fmt: skip
VERBS = [
    "painted", "carried", "found", "opened", "cleaned", "watched", "sold", "borrowed", "fixed", "dropped",
    "counted", "packed", "lifted", "hid", "washed", "pulled", "wrapped", "checked", "moved", "bought",
]  # fmt: skip
OBJECTS = [
    "the wooden box", "a heavy basket", "the blue door", "three apples", "the broken clock",
    "a long letter", "the silver key", "two warm loaves", "the garden gate", "a paper map",
    "the old piano", "seven green bottles", "the kitchen table", "a bright lamp", "the small boat",
    "four wet towels", "the iron pot", "a thick book", "the yellow kite", "a jar of honey",
]  # fmt: skip
PLACES = [
    "near the river", "before dinner", "in the morning", "after the storm", "behind the barn",
    "at the station", "during the fair", "on the hill", "by the window", "late at night",
    "under the bridge", "in the dark hall", "before the rain", "at the market", "beside the road",
]  # fmt: skip
QUESTIONS = ["why", "when", "where", "how"]
ESPEAK_VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"]


def make_sentences(n: int, rng: random.Random, exclude: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        s, v, o, p = (rng.choice(x) for x in (SUBJECTS, VERBS, OBJECTS, PLACES))
        form = rng.random()
        if form < 0.6:
            text = f"{s.capitalize()} {v} {o} {p}."
        elif form < 0.8:
            text = f"{rng.choice(QUESTIONS).capitalize()} did {s} say that {o} was {p}?"
        else:
            s2, v2 = rng.choice(SUBJECTS), rng.choice(VERBS)
            text = f"{s.capitalize()} {v} {o}, and then {s2} {v2} it {p}."
        if text not in exclude and text not in out:
            out.append(text)
    return out


def synthesize(text: str, voice: str, rng: random.Random, wav: Path) -> None:
    if voice == "slt":
        cmd = ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-o", str(wav)]
        subprocess.run(cmd, input=text, text=True, check=True, capture_output=True)
    elif voice == "kal":
        cmd = ["text2wave", "-eval", "(voice_kal_diphone)", "-o", str(wav)]
        subprocess.run(cmd, input=text, text=True, check=True, capture_output=True)
    else:
        v = rng.choice(ESPEAK_VOICES)
        cmd = ["espeak-ng", "-v", v, "-s", str(rng.randint(130, 180)), "-p", str(rng.randint(30, 70))]
        subprocess.run([*cmd, "-w", str(wav), text], check=True, capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/apnet_tiny")
    ap.add_argument("--train", type=int, default=480)
    ap.add_argument("--test", type=int, default=24)
    ap.add_argument("--sample-rate", type=int, default=16000)
    args = ap.parse_args()
    for tool in ("text2wave", "espeak-ng"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found (apt-get install festival espeak-ng ...)", file=sys.stderr)
            return 2
    from audiokit.io import load, save

    rng = random.Random(0)
    test = make_sentences(args.test, rng, set())
    train = make_sentences(args.train, rng, set(test))
    out = Path(args.out)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for split, sentences in (("train", train), ("test", test)):
            for i, text in enumerate(sentences):
                r = rng.random()
                voice = "slt" if r < 0.6 else ("kal" if r < 0.8 else "espeak")
                raw = Path(tmp) / "raw.wav"
                synthesize(text, voice, rng, raw)
                wav, _ = load(raw, sr=args.sample_rate, mono=True)
                peak_db = rng.uniform(-6.0, -1.0)
                wav = wav * (10 ** (peak_db / 20) / float(wav.abs().max()))
                name = f"{split}_{i:04d}_{voice}.wav"
                save(out / split / name, wav, args.sample_rate)
                rows.append(f"{split}/{name}\t{voice}\t{wav.shape[-1] / args.sample_rate:.2f}\t{text}")
            print(f"{split}: {len(sentences)} files in {out / split}")
    (out / "sentences.tsv").write_text("path\tvoice\tseconds\ttext\n" + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
