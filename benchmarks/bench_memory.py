"""Peak memory of the batch commands on short and long inputs: is memory bounded by the block?

Run: ``python benchmarks/bench_memory.py [--minutes 1,10] [--commands vocode,bwe,timbre,masker,eval,notes]``.
Builds the inputs from bundled audio (speech clips repeated; a binaural soundscape and maskers from
the background beds), runs each ``audiokit`` command in a fresh process with ``--workers 1`` and the
default ``--stream auto`` (files over 5 min stream), and prints the peak resident memory, the wall
time and the ratio of each length's peak to the shortest one's (``docs/deployment.md`` quotes
``--minutes 1,30``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import print_machine, print_table  # noqa: E402

from audiokit.assets import real_speech_files, speech_files  # noqa: E402
from audiokit.io import load, resample  # noqa: E402
from audiokit.perturb.backgrounds import bundled_backgrounds  # noqa: E402

#: Runs ``argv`` and prints the peak resident set size (kB) of that child alone.
_PEAK = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_and_time(argv: list[str]) -> tuple[float, float]:
    """``(peak GB, wall s)`` of one command run in a fresh process."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _PEAK, *argv], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1]) / 1e6, time.perf_counter() - t0


def make_inputs(root: Path, minutes: float) -> dict[str, Path]:
    """Speech at 16 kHz and 8 kHz, a reference copy for eval, a binaural soundscape (44.1 kHz)."""
    d = root / f"{minutes:g}min"
    clips = [load(f, sr=16000, mono=True)[0][0].numpy() for f in speech_files(16000) + real_speech_files()]
    speech = np.resize(np.concatenate(clips), int(minutes * 60 * 16000)).astype(np.float32)
    paths = {k: d / k for k in ("speech", "speech8k", "scene")}
    for p in paths.values():
        p.mkdir(parents=True, exist_ok=True)
    sf.write(paths["speech"] / "speech.wav", speech, 16000, subtype="PCM_16")
    sf.write(paths["speech8k"] / "speech.wav", resample(speech[None], 16000, 8000)[0].numpy(), 8000)
    beds = [load(p, sr=44100, mono=True)[0][0].numpy() for p in bundled_backgrounds().values()]
    bed = np.concatenate(beds)
    n = int(minutes * 60 * 44100)
    scene = np.stack([np.resize(bed, n), np.resize(bed[::-1], n)], axis=1) * 0.5
    sf.write(paths["scene"] / "scene.wav", scene.astype(np.float32), 44100, subtype="PCM_16")
    return paths


def make_maskers(root: Path) -> Path:
    d = root / "maskers"
    d.mkdir(parents=True, exist_ok=True)
    for name, p in list(bundled_backgrounds().items())[:4]:
        x, sr = load(p, mono=True)
        sf.write(d / f"{name}.wav", x[0].numpy(), sr)
    return d


def commands(paths: dict[str, Path], maskers: Path, work: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "audiokit", "-q"]
    batch = ["--workers", "1", "--no-progress", "--force"]
    return {
        "vocode": [*cli, "vocode", str(paths["speech"]), str(work / "vocode"), "--precision", "fp32", *batch],
        "bwe": [*cli, "bwe", str(paths["speech8k"]), str(work / "bwe"), "--precision", "fp32", *batch],
        "timbre": [
            *cli,
            "synth",
            "timbre-transfer",
            str(paths["speech"]),
            str(work / "tt"),
            "--model",
            "ddsp_violin",
            *batch,
        ],
        "masker": [
            *cli,
            "masker",
            "rank",
            str(paths["scene"] / "scene.wav"),
            "--maskers",
            str(maskers),
            "--top",
            "1",
        ],
        "eval": [
            *cli,
            "eval",
            str(paths["speech"]),
            str(paths["speech"]),
            "--out",
            str(work / "eval.csv"),
            "--no-progress",
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", default="1,10", help="input lengths in minutes (default 1,10)")
    ap.add_argument("--commands", default="vocode,bwe,timbre,masker,eval,notes")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    lengths = sorted(float(m) for m in args.minutes.split(","))
    wanted = [c.strip() for c in args.commands.split(",") if c.strip()]
    print_machine()
    root = Path(tempfile.mkdtemp(prefix="audiokit_bench_memory_"))
    rows, first = [], {}
    try:
        maskers = make_maskers(root)
        for minutes in lengths:
            paths = make_inputs(root, minutes)
            work = root / f"out_{minutes:g}"
            cmds = commands(paths, maskers, work)
            note = str(work / "notes.wav")
            seconds = min(minutes * 60, 3600)
            cmds["notes"] = [
                sys.executable,
                "-m",
                "audiokit",
                "-q",
                "synth",
                "notes",
                note,
                "--f0",
                "A4,C5,E5",
                "--duration",
                f"{seconds / 3:g}",
                "--model",
                "ddsp_violin",
            ]
            for name in wanted:
                peak, wall = peak_and_time(cmds[name])
                first.setdefault(name, peak)
                rows.append([name, f"{minutes:g} min", peak, wall, peak / first[name]])
                print(f"  {name} {minutes:g} min: {peak:.2f} GB, {wall:.0f} s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_table(["command", "input", "peak GB", "wall s", "x shortest"], rows)


if __name__ == "__main__":
    main()
