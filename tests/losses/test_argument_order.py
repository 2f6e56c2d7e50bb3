"""Every loss of :mod:`audiokit.losses` takes ``(pred, target)`` (generated first, real second), and
the asymmetric ones really see which argument is which."""

from __future__ import annotations

import inspect

import pytest
import torch

import audiokit.losses as L
from audiokit.frontend import MelSpectrogram

PRED_NAMES = ("pred", "fake")
TARGET_NAMES = ("target", "real")


def _loss_callables():
    for name in L.__all__:
        obj = getattr(L, name)
        if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
            yield name, obj.forward, 1  # skip self
        elif inspect.isfunction(obj) and name.endswith(("loss", "losses")):
            yield name, obj, 0


def _two_tensor_inputs(fn, skip):
    params = list(inspect.signature(fn).parameters.values())[skip:]
    return [p.name for p in params[:2]]


@pytest.mark.parametrize("name, fn, skip", list(_loss_callables()), ids=[c[0] for c in _loss_callables()])
def test_signatures_put_the_prediction_first(name, fn, skip):
    first, second = (_two_tensor_inputs(fn, skip) + [""])[:2]
    if "generator" in name:  # one input: the generated logits
        assert first.startswith("fake"), f"{name}({first})"
        return
    if name == "STFTConsistencyLoss":  # (predicted spectrum, predicted waveform): both predictions
        assert first.startswith("pred") and second.startswith("pred")
        return
    if name == "stft_consistency_loss":  # (pred, its re-analysis: the consistency target)
        assert (first, second) == ("pred", "reanalysed")
        return
    assert first.startswith(PRED_NAMES), f"{name}({first}, {second}): prediction must come first"
    assert second.startswith(TARGET_NAMES), f"{name}({first}, {second}): target must come second"


def _pair(seed=0, shape=(2, 33, 12)):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g) + 0.5
    pred = target * 0.5 + 0.2 * torch.rand(shape, generator=g)
    return pred, target


def test_spectral_convergence_is_normalised_by_the_target():
    pred, target = _pair()
    got = L.spectral_convergence_loss(pred, target)
    want = torch.linalg.vector_norm(pred - target) / torch.linalg.vector_norm(target)
    torch.testing.assert_close(got, want)
    assert abs(float(L.spectral_convergence_loss(target, pred)) - float(got)) > 0.1 * float(got)


def test_multi_resolution_stft_loss_sees_the_swap():
    g = torch.Generator().manual_seed(1)
    target = torch.randn(2, 4000, generator=g)
    pred = 0.3 * target + 0.05 * torch.randn(2, 4000, generator=g)
    loss = L.MultiResolutionSTFTLoss(((256, 64, 256), (512, 128, 512)))
    right, swapped = loss(pred, target), loss(target, pred)
    # ||M_hat - M|| / ||M||: about 0.7 with the target's norm below, about 2.3 with the prediction's
    assert 0.5 < float(right.spectral_convergence) < 0.9
    assert float(swapped.spectral_convergence) > 1.5
    torch.testing.assert_close(right.log_magnitude, swapped.log_magnitude)  # symmetric term


@pytest.mark.parametrize("kind", ["lsgan", "hinge"])
def test_discriminator_losses_see_the_swap(kind):
    fake = [torch.full((1, 4), -1.0), torch.full((1, 3), -0.5)]
    real = [torch.full((1, 4), 1.0), torch.full((1, 3), 0.5)]
    right, real_terms, fake_terms = L.discriminator_adversarial_loss(fake, real, kind)
    swapped = L.discriminator_adversarial_loss(real, fake, kind)[0]
    # a discriminator that already separates real (+) from fake (-) pays less than one that inverts them
    assert float(right) < float(swapped)
    if kind == "hinge":  # relu(1 - 1) + relu(1 - 0.5) on real; relu(1 - 1) + relu(1 - 0.5) on fake
        assert [float(t) for t in real_terms] == [0.0, 0.5]
        assert [float(t) for t in fake_terms] == [0.0, 0.5]


def test_phase_loss_module_takes_the_weight_like_phase_losses():
    """``PhaseLoss`` passes ``weight=`` through like :func:`phase_losses`; the weight belongs to the
    target, so giving it with swapped phases is not the same loss."""
    g = torch.Generator().manual_seed(2)
    target = (torch.rand(1, 6, 5, generator=g) * 2 - 1) * 3
    pred = target + 0.4 * torch.randn(1, 6, 5, generator=g)
    w = torch.rand(1, 6, 5, generator=g) ** 2
    module = L.PhaseLoss("apnet2")
    got = module(pred, target, weight=w)
    want = L.phase_losses(pred, target, "abs", "zero", weight=w)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    assert float(got.total) != pytest.approx(float(module(pred, target).total), rel=1e-3)


def test_mel_loss_module_order():
    mel = MelSpectrogram(16000, 512, 128, 512, n_mels=40)
    g = torch.Generator().manual_seed(3)
    y = torch.randn(1, 4096, generator=g)
    loss = L.MelL1Loss(mel)
    torch.testing.assert_close(loss(0.5 * y, y), L.mel_l1_loss(mel(0.5 * y), mel(y)))
    torch.testing.assert_close(loss(0.5 * y, target_mel=mel(y)), loss(0.5 * y, y))
