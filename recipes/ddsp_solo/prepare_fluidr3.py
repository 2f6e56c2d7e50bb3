"""Render expressive solo phrases of real sampled instruments (FluidR3 GM) for DDSP training.

    python recipes/ddsp_solo/prepare_fluidr3.py data/fluidr3 [--instruments violin flute]
        [--train 400] [--val 24] [--seconds 4] [--no-apt]

Writes OUT/<instrument>/{train,val}/NNNNN.wav (16 kHz mono, 16-bit) with NNNNN.npz (ground-truth
``f0_hz``, ``f0_confidence`` from the MIDI: note pitch + pitch bend; confidence 1 while a note
sounds) and OUT/<instrument>/phrases.json (the settings and provenance).

Sound source: FluidR3_GM.sf2 from Debian's ``fluid-soundfont-gm`` (Frank Wen's FluidR3 GM, sampled
recordings of real instruments, MIT licence; /usr/share/doc/fluid-soundfont-gm/copyright), played
by the ``fluidsynth`` command-line synthesizer (LGPL-2.1; only run, not linked). Both are installed
here with apt-get when missing (data preparation only). No Python dependency beyond audiokit's own:
the MIDI files are written by the minimal SMF writer below.

Phrases (seeded: train seed 0, val seed 1, so the validation phrases are different phrases, never
windows of training phrases): a random walk of notes over the instrument's range, 0.12-0.9 s long,
each phrase either legato (mono mode: a new note cuts the previous one, no gap) or detached (gaps
of 40-250 ms, sometimes rests); velocities 35-120; an expression (CC11) curve per phrase
(crescendo, diminuendo or swell) and per-note swells; delayed vibrato through pitch bend (4.5-6.5
Hz, 5-35 cents, ramped in after 0.15-0.4 s) on notes longer than 0.3 s. Reverb and chorus of
fluidsynth are off: the data are dry, the recipes set ``model.reverb: false``.
One long MIDI file per split is rendered at 44.1 kHz (fluidsynth does not low-pass when it
transposes samples up, so rendering at 16 kHz would alias), resampled to 16 kHz with soxr and cut
into phrases on their boundaries; a single gain for the whole instrument brings the loudest phrase
to -1 dBFS (dynamics between phrases are kept).
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RENDER_RATE = 44100
TPQ = 480  # ticks per quarter note; 120 bpm -> 960 ticks per second
TICKS_PER_S = 2 * TPQ
BEND_RANGE = 2.0  # semitones (the GM default)


@dataclass
class Instrument:
    """A General MIDI program and the playing range used for its phrases (MIDI notes)."""

    name: str
    program: int  # GM program, 0-based
    low: int
    high: int
    vibrato_cents: tuple[float, float]


INSTRUMENTS = {
    "violin": Instrument("violin", 40, 55, 96, (8.0, 35.0)),  # G3 .. C7
    "flute": Instrument("flute", 73, 60, 96, (5.0, 25.0)),  # C4 .. C7
}


# minimal standard MIDI file writer ---------------------------------------------------------------------
def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_smf(path: Path, events: list[tuple[int, bytes]]) -> None:
    """One-track SMF (format 0, 480 ticks per quarter at 120 bpm) from ``(tick, message)`` pairs."""
    events = sorted(events, key=lambda e: e[0])  # stable: same-tick events keep their order
    body = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20")  # tempo 500000 us per quarter
    now = 0
    for tick, msg in events:
        body += _vlq(tick - now) + msg
        now = tick
    body += b"\x00\xff\x2f\x00"
    path.write_bytes(
        b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPQ) + b"MTrk" + struct.pack(">I", len(body)) + body
    )


def _cc(cc: int, v: int) -> bytes:
    return bytes([0xB0, cc, int(np.clip(v, 0, 127))])


def _bend(semitones: float) -> bytes:
    v = int(np.clip(round(8192 + semitones / BEND_RANGE * 8192), 0, 16383))
    return bytes([0xE0, v & 0x7F, v >> 7])


# phrases -----------------------------------------------------------------------------------------------
def phrase_events(
    inst: Instrument, t0: float, seconds: float, rng: np.random.Generator, frame_rate: int
) -> tuple[list[tuple[int, bytes]], np.ndarray, np.ndarray]:
    """MIDI events of one phrase starting at ``t0`` s and its frame-wise ``(f0_hz, confidence)``."""
    n = int(round(seconds * frame_rate))
    f0_midi = np.full(n, np.nan)
    conf = np.zeros(n)
    ev: list[tuple[int, bytes]] = []

    def tick(t: float) -> int:
        return int(round((t0 + t) * TICKS_PER_S))

    legato = rng.random() < 0.5
    shape = rng.choice(["cresc", "dim", "swell", "flat"])
    e_lo, e_hi = rng.uniform(40, 90), rng.uniform(90, 127)
    ev += [(tick(0), _cc(126, 1)), (tick(0), _bend(0.0)), (tick(0), _cc(11, 100))]
    # expression curve every 20 ms over the sounding part of the phrase
    end = seconds - 0.45  # leave the release tail inside the phrase
    for t in np.arange(0.0, end, 0.02):
        u = t / end
        g = {"cresc": u, "dim": 1 - u, "swell": 1 - abs(2 * u - 1), "flat": 0.7}[shape]
        ev.append((tick(t), _cc(11, int(e_lo + (e_hi - e_lo) * g))))
    t, note = 0.0, int(rng.integers(inst.low, inst.high + 1))
    while t < end - 0.1:
        dur = min(float(rng.uniform(0.12, 0.9)), end - t)
        step = int(
            rng.choice(
                [-2, -1, 1, 2, -3, 3, -4, 4, -5, 5, 7, -7, 12, -12, 0],
                p=[0.14, 0.12, 0.12, 0.14, 0.08, 0.08, 0.06, 0.06, 0.04, 0.04, 0.03, 0.03, 0.02, 0.02, 0.02],
            )
        )
        if rng.random() < 0.1:  # a leap anywhere in the range now and then
            note = int(rng.integers(inst.low, inst.high + 1))
        note = int(np.clip(note + step, inst.low, inst.high))
        vel = int(rng.uniform(35, 120))
        gap = 0.0 if legato else float(rng.uniform(0.04, 0.25))
        if not legato and rng.random() < 0.12:
            gap = float(rng.uniform(0.3, 0.7))  # a rest
        # legato: the next note starts 10 ms before this one is released (mono mode then glides into
        # it on the same voice); detached: released ``gap`` before the next note
        off = t + dur + 0.01 if legato else t + max(0.08, dur - gap)
        ev.append((tick(t), bytes([0x90, note, vel])))
        # vibrato on longer notes: delayed, ramped in, through pitch bend every 10 ms
        bend = np.zeros(0)
        bt = np.zeros(0)
        if dur > 0.3:
            rate = rng.uniform(4.5, 6.5)
            depth = rng.uniform(*inst.vibrato_cents) / 100.0
            delay = rng.uniform(0.15, 0.4)
            bt = np.arange(0.0, dur, 0.01)
            ramp = np.clip((bt - delay) / 0.25, 0.0, 1.0)
            bend = depth * ramp * np.sin(2 * np.pi * rate * np.maximum(bt - delay, 0.0))
            for b_t, b in zip(bt, bend):
                ev.append((tick(t + b_t), _bend(float(b))))
        # the bend is reset at the next note's onset (below), held through the release
        f_start, f_off, f_next = (int(round(x * frame_rate)) for x in (t, off, t + dur))
        frames = np.arange(f_start, min(n, f_next))
        rel = (frames / frame_rate) - t
        pitch = np.full(frames.size, float(note))
        if bend.size:
            idx = np.clip(np.searchsorted(bt, rel, side="right") - 1, 0, bt.size - 1)
            # a bend sent at tick k sounds from k on: quantise like the events
            pitch += _bend_value(bend[idx])
        f0_midi[frames] = pitch
        conf[f_start : min(n, f_off)] = 1.0
        ev.append((tick(off), bytes([0x80, note, 0])))
        t += dur
        if t < end - 0.1:
            ev.append((tick(t), _bend(0.0)))
    ev.append((tick(seconds - 0.02), _cc(123, 0)))  # all notes off before the next phrase
    # frames after the last note (release tail, silence) hold its pitch, as in fill_unvoiced
    idx = np.where(np.isfinite(f0_midi), np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    f0_midi = f0_midi[idx]
    return ev, 440.0 * 2.0 ** ((f0_midi - 69.0) / 12.0), conf


def _bend_value(semitones: np.ndarray) -> np.ndarray:
    """The pitch offset a 14-bit bend message actually encodes."""
    v = np.clip(np.round(8192 + semitones / BEND_RANGE * 8192), 0, 16383)
    return (v - 8192) / 8192 * BEND_RANGE


# rendering ---------------------------------------------------------------------------------------------
def ensure_tools(use_apt: bool) -> None:
    """fluidsynth and the FluidR3 soundfont, installed with apt-get (Debian/Ubuntu) when missing."""
    if shutil.which("fluidsynth") and SOUNDFONT.is_file():
        return
    if not use_apt:
        sys.exit("fluidsynth or FluidR3_GM.sf2 missing: apt-get install fluidsynth fluid-soundfont-gm")
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "fluidsynth", "fluid-soundfont-gm"], check=True)


def render(mid: Path, wav: Path) -> np.ndarray:
    """fluidsynth, dry (reverb and chorus off), 44.1 kHz float -> mono float64."""
    import soundfile as sf

    subprocess.run(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-R",
            "0",
            "-C",
            "0",
            "-g",
            "0.5",
            "-r",
            str(RENDER_RATE),
            "-O",
            "float",
            "-T",
            "wav",
            "-F",
            str(wav),
            str(SOUNDFONT),
            str(mid),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    x, sr = sf.read(str(wav), dtype="float64", always_2d=True)
    assert sr == RENDER_RATE
    return x.mean(axis=1)


def make_split(inst: Instrument, n: int, seconds: float, seed: int, sr: int, fr: int):
    """Render ``n`` phrases: ``(audio (n, seconds * sr), f0 (n, F), conf (n, F))`` at ``sr``."""
    import soxr

    rng = np.random.default_rng(seed)
    events = [
        (0, bytes([0xC0, inst.program])),
        (0, _cc(7, 127)),
        (0, _cc(101, 0)),
        (0, _cc(100, 0)),
        (0, _cc(6, int(BEND_RANGE))),
        (0, _cc(38, 0)),
    ]
    f0s, confs = [], []
    for i in range(n):
        ev, f0, conf = phrase_events(inst, 0.5 + i * seconds, seconds, rng, fr)
        events += ev
        f0s.append(f0)
        confs.append(conf)
    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(tmp) / "phrases.mid"
        write_smf(mid, events + [(int(round((0.5 + n * seconds + 0.5) * TICKS_PER_S)), _cc(123, 0))])
        x = render(mid, Path(tmp) / "phrases.wav")
    y = soxr.resample(x, RENDER_RATE, sr)
    per = int(round(seconds * sr))
    start = int(round(0.5 * sr))
    y = np.pad(y, (0, max(0, start + n * per - y.size)))
    audio = np.stack([y[start + i * per : start + (i + 1) * per] for i in range(n)])
    return audio, np.stack(f0s), np.stack(confs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--instruments", nargs="+", default=list(INSTRUMENTS), choices=list(INSTRUMENTS))
    ap.add_argument("--train", type=int, default=400, help="training phrases (default 400)")
    ap.add_argument("--val", type=int, default=24, help="held-out phrases (default 24)")
    ap.add_argument("--seconds", type=float, default=4.0, help="phrase length (default 4)")
    ap.add_argument("--no-apt", action="store_true", help="do not apt-get install missing tools")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from audiokit.io import atomic_write, save

    ensure_tools(not args.no_apt)
    sr, fr = 16000, 250
    for name in args.instruments:
        inst = INSTRUMENTS[name]
        splits = {
            s: make_split(inst, k, args.seconds, seed, sr, fr)
            for s, k, seed in (("train", args.train, 0), ("val", args.val, 1))
        }
        peak = max(float(np.abs(a).max()) for a, _, _ in splits.values())
        gain = 10 ** (-1 / 20) / peak  # one gain per instrument: loudest phrase at -1 dBFS
        for split, (audio, f0, conf) in splits.items():
            d = args.out / name / split
            d.mkdir(parents=True, exist_ok=True)
            for i in range(audio.shape[0]):
                import torch

                save(d / f"{i:05d}.wav", torch.from_numpy(audio[i] * gain).float()[None], sr)
                with atomic_write(d / f"{i:05d}.npz") as tmp, open(tmp, "wb") as fh:
                    np.savez(fh, f0_hz=f0[i].astype(np.float32), f0_confidence=conf[i].astype(np.float32))
        meta = {
            **asdict(inst),
            "train": args.train,
            "val": args.val,
            "seconds": args.seconds,
            "sample_rate": sr,
            "frame_rate": fr,
            "gain": gain,
            "soundfont": str(SOUNDFONT),
            "source": "Debian fluid-soundfont-gm (FluidR3 GM by Frank Wen, MIT licence), fluidsynth, "
            "reverb and chorus off",
        }
        with atomic_write(args.out / name / "phrases.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
        print(f"{name}: {args.train} + {args.val} phrases of {args.seconds:g} s in {args.out / name}")


if __name__ == "__main__":
    main()
