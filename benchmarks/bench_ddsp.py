"""DDSP harmonic synthesis: audiokit against a straightforward float32-cumsum port of the same maths.

4 s at 16 kHz (1000 frames at 250 Hz), 100 harmonics, batch 1 and 16, inference (no grad) and one
forward+backward. The port is magenta's ``harmonic_synthesis`` written plainly in torch: per-harmonic
linear upsampling of the frequencies, Hann overlap-add upsampling of the amplitudes, a sample-wise
Nyquist mask, a float32 ``cumsum`` of the angular frequency, ``sin``, multiply and sum.

The f0 (about 70 Hz with vibrato) keeps all 100 harmonics below Nyquist, the worst case for both;
a 440 Hz row shows typical material (18 audible harmonics), which audiokit skips to.
Also printed: peak memory of one call (each in a fresh process), and the phase error of a 60 s
440 Hz tone at 48 kHz at harmonics 1 and 60.

Run under the shared lock: ``flock /tmp/audiokit-heavy.lock python benchmarks/bench_ddsp.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, print_machine, print_table  # noqa: E402

SR, SECONDS, FRAMES, HARMONICS = 16000, 4.0, 1000, 100
N = int(SR * SECONDS)


def port_harmonic_synthesis(
    f0: torch.Tensor, amps: torch.Tensor, hd: torch.Tensor, n: int, sr: int
) -> torch.Tensor:
    """The float32-cumsum port (magenta's maths, written as most ports do)."""
    b, f, h = hd.shape
    hop = n // f
    freqs = f0[..., None] * torch.arange(1, h + 1, dtype=f0.dtype)  # (B, F, H)
    # linear upsampling, frame j on sample j * hop, last frame held
    ext = torch.cat([freqs, freqs[:, -1:]], 1)
    w = (torch.arange(hop, dtype=f0.dtype) / hop)[None, None, :, None]
    fe = (ext[:, :-1, None] * (1 - w) + ext[:, 1:, None] * w).reshape(b, n, h)
    # Hann overlap-add upsampling of the amplitudes
    a = amps[..., None] * hd
    a = torch.cat([a, a[:, -1:]], 1).transpose(1, 2)  # (B, H, F + 1)
    win = torch.hann_window(2 * hop, dtype=f0.dtype)
    frames = a[..., None] * win  # (B, H, F + 1, 2 hop)
    ola = torch.nn.functional.fold(
        frames.reshape(b * h, f + 1, 2 * hop).transpose(1, 2),
        (1, (f + 2) * hop),
        (1, 2 * hop),
        stride=(1, hop),
    ).reshape(b, h, -1)
    ae = ola[..., hop:-hop].transpose(1, 2)  # (B, n, H)
    ae = torch.where(fe >= sr / 2, torch.zeros_like(ae), ae)
    phase = torch.cumsum(2 * math.pi * fe / sr, dim=1)
    return (ae * torch.sin(phase)).sum(-1)


def controls(batch: int, f0_hz: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(FRAMES) / 250.0
    f0 = (f0_hz * 2 ** (0.3 / 12 * torch.sin(2 * math.pi * 5.5 * t)))[None].repeat(batch, 1)
    amps = 0.2 + 0.1 * torch.rand(batch, FRAMES, generator=g)
    hd = torch.rand(batch, FRAMES, HARMONICS, generator=g)
    hd = hd / hd.sum(-1, keepdim=True)
    return f0, amps, hd


def _ours(f0, amps, hd):
    from audiokit.ddsp.oscillators import harmonic_synthesis

    return harmonic_synthesis(f0, amps, hd, N, SR)


def _port(f0, amps, hd):
    return port_harmonic_synthesis(f0, amps, hd, N, SR)


IMPLS = {"audiokit": _ours, "float32-cumsum port": _port}


def _memory_child(impl: str, batch: int, f0_hz: float, backward: bool) -> None:
    f0, amps, hd = controls(batch, f0_hz)
    if backward:
        for x in (f0, amps, hd):
            x.requires_grad_(True)
    base = _reset_peak_rss_kb()
    if backward:
        IMPLS[impl](f0, amps, hd).square().sum().backward()
    else:
        with torch.no_grad():
            IMPLS[impl](f0, amps, hd)
    peak = _peak_rss_kb()
    print(json.dumps({"peak_mb": (peak - base) / 1024.0}))


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss_kb() -> int:
    """Reset the peak-RSS mark to the current RSS and return it (KB). ``ru_maxrss`` alone is no use
    in a child: Linux carries the parent's peak across exec, so the child would report the bench's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmRSS") or 0
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss_kb() -> int:
    hwm = _status_kb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_memory_mb(impl: str, batch: int, f0_hz: float, backward: bool = False) -> float:
    """Peak RSS growth (MB) of one call, in a fresh process so earlier runs do not mask it."""
    code = [sys.executable, __file__, "--memory-child", impl, str(batch), str(f0_hz), str(int(backward))]
    out = subprocess.run(code, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return float(json.loads(out)["peak_mb"])


def phase_errors() -> list[list[object]]:
    """Max phase error (rad) of a 60 s 440 Hz tone at 48 kHz, harmonics 1 and 60."""
    from audiokit.ddsp.oscillators import harmonic_phase, segment_phase

    sr, secs = 48000, 60
    hop, n_frames = sr // 250, secs * 250
    n = np.arange(1, n_frames * hop + 1, dtype=np.int64)
    ours, _ = segment_phase(torch.full((1, n_frames + 1, 1), 440.0), hop, sr, dtype=torch.float64)
    rows = []
    for k in (1, 60):
        exact = 2 * np.pi * ((k * 440 * n) % sr) / sr
        a = harmonic_phase(ours[0, :, 0].float(), k).double().numpy()
        p = torch.cumsum(torch.full((n.size,), 2 * math.pi * k * 440 / sr), 0).double().numpy()
        errs = [float(np.abs((x - exact + np.pi) % (2 * np.pi) - np.pi).max()) for x in (a, p)]
        rows.append([k, errs[0], errs[1], errs[1] / errs[0]])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no memory or phase section")
    ap.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        impl, b, f, bw = args.memory_child
        _memory_child(impl, int(b), float(f), bool(int(bw)))
        return
    repeats = 5 if args.quick else args.repeats
    print_machine()
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}; "
        f"{SECONDS:.0f} s at {SR} Hz, {HARMONICS} harmonics"
    )

    rows = []
    for batch, f0_hz in ((1, 70.0), (16, 70.0), (1, 440.0)):
        f0, amps, hd = controls(batch, f0_hz)
        with torch.no_grad():
            fns = {k: (lambda fn=fn, a=(f0, amps, hd): fn(*a)) for k, fn in IMPLS.items()}
            med = interleaved_medians(fns, repeats=repeats if batch == 1 else max(3, repeats // 3), warmup=2)
            err = float((_ours(f0, amps, hd) - _port(f0, amps, hd)).abs().max())
        rtf = {k: batch * SECONDS / v for k, v in med.items()}
        rows.append(
            [
                f"{f0_hz:.0f} Hz",
                batch,
                med["audiokit"] * 1e3,
                rtf["audiokit"],
                med["float32-cumsum port"] * 1e3,
                rtf["float32-cumsum port"],
                med["float32-cumsum port"] / med["audiokit"],
                err,
            ]
        )
    print("\nInference (no grad), median ms per call; RTF = audio seconds / wall seconds")
    print_table(
        ["f0", "batch", "audiokit ms", "audiokit RTF", "port ms", "port RTF", "speed-up", "max |diff|"], rows
    )

    rows = []
    for batch in (1, 16):
        f0, amps, hd = controls(batch, 70.0)

        def step(fn, f0=f0, amps=amps, hd=hd):
            leaves = [x.clone().requires_grad_(True) for x in (f0, amps, hd)]
            fn(*leaves).square().sum().backward()

        med = interleaved_medians(
            {k: (lambda fn=fn: step(fn)) for k, fn in IMPLS.items()}, repeats=3 if batch > 1 else 5, warmup=1
        )
        rows.append(
            [
                batch,
                med["audiokit"] * 1e3,
                med["float32-cumsum port"] * 1e3,
                med["float32-cumsum port"] / med["audiokit"],
            ]
        )
    print("\nForward + backward (gradients to f0, amplitudes, distribution), median ms")
    print_table(["batch", "audiokit ms", "port ms", "speed-up"], rows)

    if args.quick:
        return
    rows = []
    for batch, backward in ((1, False), (16, False), (16, True)):
        mem = {k: peak_memory_mb(k, batch, 70.0, backward) for k in IMPLS}
        rows.append(
            [batch, "fwd+bwd" if backward else "inference", mem["audiokit"], mem["float32-cumsum port"]]
        )
    print("\nPeak memory of one call (MB of RSS growth, fresh process)")
    print_table(["batch", "mode", "audiokit MB", "port MB"], rows)

    print("\nPhase error, 60 s 440 Hz tone at 48 kHz, float32 outputs (max over samples, rad)")
    print_table(["harmonic", "audiokit", "float32 cumsum", "ratio"], phase_errors())


if __name__ == "__main__":
    main()
