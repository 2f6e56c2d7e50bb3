"""Forward parity: official outputs (fixture), independent re-implementations, feature-map
conventions, gradients and input validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from audiokit.discriminators import (
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
    PeriodDiscriminator,
    ResolutionDiscriminator,
    build_discriminators,
)
from audiokit.losses import feature_matching_loss, hinge_discriminator_loss, hinge_generator_loss
from tests.discriminators.seeded import resolve_phase_ties, seeded_state, seeded_waveforms

OUTPUTS = json.loads(
    (Path(__file__).parents[1] / "data" / "official" / "discriminator_outputs.json").read_text()
)


def _seeded_module(preset: str, name: str, seed: int):
    if name == "mpd":  # large: skip the random init, load the seeded weights in place
        with torch.device("meta"):
            module = build_discriminators(preset)[name]
        module.load_state_dict(seeded_state(module.state_dict(), seed), strict=True, assign=True)
    else:
        module = build_discriminators(preset)[name]
        module.load_state_dict(seeded_state(module.state_dict(), seed), strict=True)
    return module.eval()


def _with_recorded_phase_ties(module, negative: dict[str, list[list[int]]]) -> None:
    """Make each phase sub-discriminator resolve its spectrogram's +-pi ties as the machine that
    recorded the official outputs did (see ``real_spectrum_bins``): sub-discriminator ``k`` sees
    the real input, then the generated one."""
    for k, disc in enumerate(module.discriminators):
        calls = iter(("real", "fake"))
        plain = disc.spectrogram

        def spectrogram(x, plain=plain, calls=calls, k=k):
            return resolve_phase_ties(plain(x), negative[next(calls)][k])

        disc.spectrogram = spectrogram


@pytest.mark.parametrize("entry", sorted(OUTPUTS["entries"]))
def test_matches_official_outputs(entry):
    preset, name = entry.split("/")
    ref = OUTPUTS["entries"][entry]
    module = _seeded_module(preset, name, ref["seed"])
    if "phase_ties_negative" in ref:
        _with_recorded_phase_ties(module, ref["phase_ties_negative"])
    y, y_hat = seeded_waveforms()
    with torch.no_grad():
        out = module(y, y_hat)
    for side in ("real", "fake"):
        logits = getattr(out, f"{side}_logits")
        assert len(logits) == len(ref[f"{side}_logits"])
        for got, want in zip(logits, ref[f"{side}_logits"]):
            # relative to the logits' magnitude (a logit near zero has no relative accuracy):
            # <= 1.7e-5 seen across AMX / AVX-512 / forced-AVX2 kernels (MKL, ATen, oneDNN)
            want = torch.tensor(want)
            assert got.shape == want.shape
            assert float((got - want).abs().max()) <= 1e-4 * float(want.abs().max()) + 1e-7
        fmaps = getattr(out, f"{side}_fmaps")
        for got_d, want_d in zip(fmaps, ref[f"{side}_fmaps"], strict=True):
            assert [list(m.shape) for m in got_d] == [w["shape"] for w in want_d]
            for m, w in zip(got_d, want_d):
                assert math.isclose(m.abs().mean().item(), w["abs_mean"], rel_tol=1e-4, abs_tol=1e-7)
                assert math.isclose(m.mean().item(), w["mean"], rel_tol=1e-3, abs_tol=1e-5 * w["abs_mean"])


# ---------------------------------------------------------------- independent re-implementations


def _wn(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    norm = v.reshape(v.shape[0], -1).norm(dim=1)
    return v * (g.reshape(-1) / norm).reshape(-1, *([1] * (v.dim() - 1)))


def _np_rect_stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, reflect-padded, rectangular-window STFT ``(F, N)`` in float64 numpy."""
    xp = np.pad(x, n_fft // 2, mode="reflect")
    n = 1 + (len(xp) - n_fft) // hop
    frames = np.stack([xp[i * hop : i * hop + n_fft] for i in range(n)], axis=1)
    return np.fft.rfft(frames, axis=0)


@pytest.mark.parametrize("feature", ["magnitude", "phase"])
def test_resolution_discriminator_matches_manual_forward(feature):
    disc = ResolutionDiscriminator((256, 64, 256), feature=feature, channels=8).double().eval()
    disc.load_state_dict({k: v.double() for k, v in seeded_state(disc.state_dict(), 11).items()})
    x = seeded_waveforms(length=1500)[0][:1].double()
    spec = _np_rect_stft(x[0, 0].numpy(), 256, 64)
    h = np.abs(spec) if feature == "magnitude" else np.angle(spec)
    if feature == "phase":
        # Reflect padding makes the first frame (nearly) even-symmetric, so its spectrum is real up
        # to rounding and its phase is +-pi wherever the real part is negative: the sign is decided
        # by rounding (in the official code too). Check the phases modulo 2 pi, then use torch's
        # representative at those ties.
        ours = disc.spectrogram(x)[0].numpy()
        assert np.abs(np.angle(np.exp(1j * (h - ours)))).max() < 1e-9
        h = np.where(np.abs(np.abs(h) - np.pi) < 1e-9, ours, h)
    h = torch.from_numpy(h)[None, None]
    sd = disc.state_dict()
    strides = [(2, 2), (2, 1), (2, 2), (2, 1), (2, 2)]
    pads = [(3, 2), (2, 1), (2, 1), (1, 1), (1, 1)]
    maps = []
    for i in range(5):
        w = _wn(sd[f"convs.{i}.weight_v"], sd[f"convs.{i}.weight_g"])
        h = F.leaky_relu(F.conv2d(h, w, sd[f"convs.{i}.bias"], strides[i], pads[i]), 0.1)
        maps.append(h)
    h = F.conv2d(h, _wn(sd["conv_post.weight_v"], sd["conv_post.weight_g"]), sd["conv_post.bias"], 1, 1)
    maps.append(h)
    logits, fmap = disc(x)
    torch.testing.assert_close(logits, h.flatten(1), rtol=1e-9, atol=1e-12)
    for a, b in zip(fmap, maps, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_period_discriminator_matches_manual_forward():
    chans = (4, 8, 8, 16, 16)
    disc = PeriodDiscriminator(3, channels=chans).double().eval()
    disc.load_state_dict({k: v.double() for k, v in seeded_state(disc.state_dict(), 12).items()})
    x = seeded_waveforms(length=301)[1][:1].double()  # 301 = 3 * 100 + 1: exercises the padding
    xn = x[0, 0].numpy()
    xp = np.concatenate([xn, xn[-3:-1][::-1]])  # reflect-pad 2 on the right
    h = torch.from_numpy(xp.reshape(1, 1, -1, 3).copy())
    sd = disc.state_dict()
    for i in range(5):
        w = _wn(sd[f"convs.{i}.weight_v"], sd[f"convs.{i}.weight_g"])
        h = F.leaky_relu(F.conv2d(h, w, sd[f"convs.{i}.bias"], (3 if i < 4 else 1, 1), (2, 0)), 0.1)
    h = F.conv2d(h, _wn(sd["conv_post.weight_v"], sd["conv_post.weight_g"]), sd["conv_post.bias"], 1, (1, 0))
    torch.testing.assert_close(disc(x)[0], h.flatten(1), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- conventions and API


def test_feature_map_conventions():
    y, g = torch.randn(1, 1, 2000), torch.randn(1, 1, 2000)
    small = dict(periods=(2, 5), channels=(4, 8, 8, 16, 16))
    hifigan = MultiPeriodDiscriminator(**small)
    apbwe = MultiPeriodDiscriminator(include_first_fmap=False, **small)
    apbwe.load_state_dict(hifigan.state_dict())
    a, b = hifigan(y, g), apbwe(y, g)
    assert [len(f) for f in a.real_fmaps] == [6, 6] and [len(f) for f in b.real_fmaps] == [5, 5]
    for fa, fb in zip(a.real_fmaps, b.real_fmaps):
        for ma, mb in zip(fa[1:], fb):
            assert torch.equal(ma, mb)
    torch.testing.assert_close(a.real_logits[0], b.real_logits[0])
    # the last feature map is the unflattened score map
    assert torch.equal(a.real_fmaps[1][-1].flatten(1), a.real_logits[1])


def test_score_and_input_layouts_agree():
    d = MultiResolutionDiscriminator(((128, 32, 128), (64, 16, 64)), channels=4).eval()
    x, g = torch.randn(2, 900), torch.randn(2, 900)
    out = d(x, g)
    logits, fmaps = d.score(x.unsqueeze(1))
    for a, b in zip(out.real_logits, logits):
        assert torch.equal(a, b)
    y_d_rs, y_d_gs, fmap_rs, fmap_gs = out  # unpacks like the official tuple
    assert len(y_d_rs) == len(y_d_gs) == len(fmap_rs) == len(fmap_gs) == 2
    assert [f.shape for f in fmap_rs[0]] == [f.shape for f in fmaps[0]]


def test_msd_branches_see_pooled_inputs():
    msd = MultiScaleDiscriminator()
    x = torch.randn(1, 1, 1000)
    ins = msd.sub_inputs(x)
    assert [t.shape[-1] for t in ins] == [1000, 501, 251]
    torch.testing.assert_close(ins[1], F.avg_pool1d(x, 4, 2, padding=2))


def test_gradients_reach_weights_and_generated_audio():
    mpd = MultiPeriodDiscriminator(periods=(2, 3), channels=(4, 8, 8, 16, 16))
    mrd = MultiResolutionDiscriminator(((128, 32, 128),), feature="phase", channels=4)
    y = torch.randn(2, 1, 800)
    y_hat = torch.randn(2, 1, 800, requires_grad=True)
    loss = 0
    for d in (mpd, mrd):
        out = d(y, y_hat)
        loss = loss + hinge_generator_loss(out.fake_logits)[0]
        loss = loss + feature_matching_loss(out.fake_fmaps, out.real_fmaps)
        loss = loss + hinge_discriminator_loss(out.fake_logits, out.real_logits)[0]
    loss.backward()
    assert y_hat.grad is not None and torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0
    for d in (mpd, mrd):
        for name, p in d.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_bad_inputs_raise_clear_errors():
    mpd = MultiPeriodDiscriminator(periods=(2,), channels=(4, 8, 8, 16, 16))
    with pytest.raises(ValueError, match="mono"):
        mpd(torch.randn(2, 2, 100), torch.randn(2, 2, 100))
    with pytest.raises(ValueError, match="too short"):
        MultiResolutionDiscriminator(((512, 128, 512),), channels=4)(torch.randn(1, 100), torch.randn(1, 100))
    with pytest.raises(ValueError, match="feature"):
        ResolutionDiscriminator((64, 16, 64), feature="power")


def test_half_precision_input_is_analysed_in_float32():
    d = MultiResolutionDiscriminator(((128, 32, 128),), channels=4)
    y = torch.randn(1, 1, 600)
    ref = d.score(y)[0][0]
    got = d.bfloat16().score(y.bfloat16())[0][0]
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), ref, rtol=0.1, atol=0.05)
