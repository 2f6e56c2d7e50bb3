"""The shared amplitude/phase GAN task: published totals from config, D-then-G training, clipping,
checkpoint/resume, export."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from audiokit.frontend import STFT, MelSpectrogram
from audiokit.train import Trainer, TrainerConfig, from_dict, load_checkpoint, read_log
from audiokit.train.gan import GeneratorOutput, build_discriminator, gan_preset
from tests.train.gan_tasks import HOP, N_FFT, N_MELS, SR, TinyAPConfig, TinyAPTask, tiny_discriminators


# ------------------------------------------------------------------ independent reference formulas
def _aw_abs(x):
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def _diff_zero(phi, dim):  # phi[k-1] - phi[k] with phi[-1] := 0 (APNet/APNet2 matrices)
    prev = torch.cat([torch.zeros_like(phi.narrow(dim, 0, 1)), phi.narrow(dim, 0, phi.shape[dim] - 1)], dim)
    return prev - phi


def _phase_loss(phi, phi_hat, form, boundary):
    f = (lambda x: -torch.cos(x)) if form == "cos" else _aw_abs
    d = (lambda p, dim: _diff_zero(p, dim)) if boundary == "zero" else (lambda p, dim: torch.diff(p, dim=dim))
    ip = f(phi - phi_hat).mean()
    gd = f(d(phi, 1) - d(phi_hat, 1)).mean()
    ptd = f(d(phi, 2) - d(phi_hat, 2)).mean()
    return ip + gd + ptd


def _reference_total(preset, y, out, discs):
    """L_G written out from apnet.md section 5 / ap_bwe.md section 6 (not through the task)."""
    stft = STFT(N_FFT, HOP, N_FFT)
    S = stft(y)
    eps = 1e-4 if preset == "ap_bwe" else 1e-5
    A, phi = torch.log(S.abs() + eps), torch.atan2(S.imag, S.real)
    S_hat, y_hat = out.spectrum, out.audio
    l_a = F.mse_loss(A, out.log_amplitude)

    def adv_fm(kind, fm_scale, weights):
        total = 0.0
        for name, w in weights.items():
            o = discs[name](y, y_hat)
            if kind == "lsgan":
                adv = sum(((1 - g) ** 2).mean() for g in o.fake_logits)
            else:
                adv = sum(torch.relu(1 - g).mean() for g in o.fake_logits)
            fm = sum(
                (r - g).abs().mean() for rs, gs in zip(o.real_fmaps, o.fake_fmaps) for r, g in zip(rs, gs)
            )
            total = total + w * (adv + fm_scale * fm)
        return total

    if preset in ("apnet", "apnet2"):
        S2 = stft(y_hat)
        l_c = ((S_hat.real - S2.real) ** 2 + (S_hat.imag - S2.imag) ** 2).mean(dim=(1, 2)).mean()
        l_r, l_i = (S.real - S_hat.real).abs().mean(), (S.imag - S_hat.imag).abs().mean()
        f_max = SR / 2 if preset == "apnet" else None  # APNet's 8 kHz edge, at this test's Nyquist
        mel = MelSpectrogram(SR, N_FFT, HOP, N_FFT, n_mels=N_MELS, f_max=f_max)
        l_mel = (mel(y) - mel(y_hat)).abs().mean()
        form = "cos" if preset == "apnet" else "abs"
        l_p = _phase_loss(phi, out.phase, form, "zero")
        spectral = 45 * l_a + 100 * l_p + 20 * (l_c + 2.25 * (l_r + l_i)) + 45 * l_mel
        if preset == "apnet":  # LSGAN, MPD + MSD, feature matching x2
            return spectral + adv_fm("lsgan", 2.0, {"mpd": 1.0, "msd": 1.0})
        return spectral + adv_fm("hinge", 1.0, {"mpd": 1.0, "mrd": 0.1})  # hinge, MRD x0.1
    com = torch.stack([torch.exp(A) * torch.cos(phi), torch.exp(A) * torch.sin(phi)], -1)
    com_g = torch.view_as_real(S_hat)
    S2 = stft(y_hat)
    A2, phi2 = torch.log(S2.abs() + eps), torch.atan2(S2.imag, S2.real)
    com_g_hat = torch.stack([torch.exp(A2) * torch.cos(phi2), torch.exp(A2) * torch.sin(phi2)], -1)
    l_p = _phase_loss(phi, out.phase, "abs", "none")
    spectral = 45 * l_a + 100 * l_p + 90 * F.mse_loss(com, com_g) + 90 * F.mse_loss(com_g, com_g_hat)
    return spectral + adv_fm("hinge", 1.0, {"mpd": 1.0, "mrad": 0.1, "mrpd": 0.1})


@pytest.mark.parametrize("preset", ["apnet", "apnet2", "ap_bwe"])
def test_published_totals_are_expressible_by_config(preset):
    _, loss, discs = gan_preset(preset)
    loss.mel_n_mels = N_MELS
    if loss.mel_f_max is not None:  # APNet's 8 kHz mel edge (for 22.05 kHz) is above this rate's Nyquist
        loss.mel_f_max = SR / 2
    weights = {k: (v.weight, v.fm_weight) for k, v in discs.items()}
    extra = {"mpd": discs["mpd"].options}
    cfg = TinyAPConfig(loss=loss, discriminators=tiny_discriminators(weights, **extra))
    cfg.stft.log_eps = 1e-4 if preset == "ap_bwe" else 1e-5
    task = TinyAPTask(cfg, TrainerConfig())
    task.models = task.build_models()
    assert list(task.models) == ["generator", *discs]  # official optimizer order of the families
    for m in task.models.values():  # eval: the MSD's spectral norm must not iterate between the two calls
        m.eval()
    torch.manual_seed(0)
    y = 0.3 * torch.randn(2, 1024)
    mel = MelSpectrogram(SR, N_FFT, HOP, n_mels=N_MELS)(y)
    out = task.generate(task.model("generator"), {"mel": mel}).complete(task.stft)
    total, logged = task.generator_loss(out, y)
    expected = _reference_total(preset, y, out, {n: task.model(n) for n in discs})
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert set(logged) >= {"loss_g", "amplitude", "phase_ip", *(f"adv/{n}" for n in discs)}


def _tiny_task(tones_dir, run_dir, cfg_overrides=None, **train):
    settings = dict(run_dir=str(run_dir), batch_size=4, num_workers=0, log_every=1, validate_every=0)
    settings.update(checkpoint_every=0, progress=False, tensorboard=False, val_metrics=["snr", "lsd"])
    settings.update(train)
    cfg = from_dict(TinyAPConfig, {"data": {"train": {"path": str(tones_dir)}}, **(cfg_overrides or {})})
    return TinyAPTask(cfg, from_dict(TrainerConfig, {"optimizer": {"lr": 1e-3}, **settings}))


def test_gan_training_end_to_end_with_resume(tones_dir, tmp_path):
    task = _tiny_task(tones_dir, tmp_path / "a", max_steps=4, validate_every=4)
    torch.manual_seed(1234)  # the Trainer seeds with train.seed before building: same initial weights
    initial = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in task.build_models().items()}
    assert Trainer(task).fit().status == "completed"
    logs = read_log(tmp_path / "a", "train")
    keys = {
        "loss_g",
        "loss_d",
        "amplitude",
        "phase_ip",
        "phase_gd",
        "phase_ptd",
        "real",
        "imag",
        "consistency",
    }
    keys |= {"mel", "adv/mpd", "adv/mrd", "fm/mpd", "fm/mrd", "d/mpd", "d/mrd"}
    keys |= {"grad_norm/generator", "grad_norm/mpd", "grad_norm/mrd"}
    for r in logs:
        assert keys <= set(r), keys - set(r)
        assert all(math.isfinite(r[k]) for k in keys)
    state = load_checkpoint(tmp_path / "a" / "checkpoints" / "step_00000004.pt")
    for name in ("generator", "mpd", "mrd"):  # every model was updated
        changed = [not torch.equal(v, initial[name][k]) for k, v in state["models"][name].items()]
        assert any(changed), name
    assert set(state["optimizers"]) == {"generator", "discriminator"}
    val = read_log(tmp_path / "a", "val")[-1]
    assert {"loss/amplitude", "loss/spectral_total", "snr", "lsd"} <= set(val)
    assert (tmp_path / "a" / "samples" / "step_00000004" / "00_generated.wav").is_file()

    # an interrupted-and-resumed run ends where an uninterrupted one does
    cut = _tiny_task(tones_dir, tmp_path / "b", max_steps=2)
    Trainer(cut).fit()
    resumed = _tiny_task(tones_dir, tmp_path / "b", max_steps=4)
    Trainer(resumed).fit()
    assert resumed.resumed and resumed.steps_run == [2, 3]
    ref = _tiny_task(tones_dir, tmp_path / "c", max_steps=4)
    Trainer(ref).fit()
    a = load_checkpoint(tmp_path / "b" / "checkpoints" / "step_00000004.pt")
    b = load_checkpoint(tmp_path / "c" / "checkpoints" / "step_00000004.pt")
    for name in ("generator", "mpd", "mrd"):
        for k, v in a["models"][name].items():
            assert torch.equal(v, b["models"][name][k]), (name, k)

    bundle = resumed.export()
    assert set(bundle.weights) == set(resumed.model("generator").state_dict())
    assert set(bundle.config) == {"stft", "channels", "interrupt_at_step", "interrupt_rank", "dump_dir"}


def test_discriminator_then_generator_with_per_family_clipping(tones_dir, tmp_path):
    """AP-BWE style: each family's gradient clipped separately; SGD(lr=1) makes the update equal the
    clipped gradient, so its norm must be exactly the clip value."""
    _, loss, discs = gan_preset("ap_bwe")
    weights = {k: (v.weight, v.fm_weight) for k, v in discs.items()}
    overrides = {
        "loss": {
            **loss.__dict__,
            "mel_n_mels": N_MELS,
            "generator_grad_clip": 1e-4,
            "discriminator_grad_clip": 1e-4,
        },
        "discriminators": {
            n: c.__dict__ for n, c in tiny_discriminators(weights, mpd={"include_first_fmap": False}).items()
        },
    }
    task = _tiny_task(tones_dir, tmp_path / "r", overrides)
    task.train.optimizer = from_dict(
        type(task.train.optimizer), {"name": "sgd", "lr": 1.0, "weight_decay": 0.0}
    )
    task.models = task.build_models()
    task.optimizers = task.build_optimizers()
    before = {n: [p.detach().clone() for p in m.parameters()] for n, m in task.models.items()}
    batch = next(iter(torch.utils.data.DataLoader(task.train_dataset(), batch_size=4)))
    stats = task.training_step(batch)
    for name in ("generator", "mpd", "mrad", "mrpd"):
        assert stats[f"grad_norm/{name}"] > 1e-3  # far above the clip
        delta = torch.cat(
            [(a - b.detach()).flatten() for a, b in zip(before[name], task.models[name].parameters())]
        )
        assert delta.norm().item() == pytest.approx(1e-4, rel=1e-3), name
        if name != "generator":  # frozen during the generator's backward: only the clipped D gradient
            grads = torch.cat([p.grad.flatten() for p in task.models[name].parameters()])
            assert grads.norm().item() == pytest.approx(1e-4, rel=1e-3), name
    assert set(stats) >= {"complex", "consistency", "d/mrad", "adv/mrpd", "fm/mpd"}
    assert "mel" not in stats and "real" not in stats


def test_spectral_only_training_with_amplitude_weighted_phase(tones_dir, tmp_path):
    """No discriminator family: only the generator trains (one optimizer), and
    ``phase_weighting: amplitude`` logs the weighted phase losses of :mod:`audiokit.losses`."""
    from audiokit.losses import amplitude_weight, phase_losses

    overrides = {"discriminators": {}, "loss": {"phase_weighting": "amplitude", "mel_n_mels": N_MELS}}
    task = _tiny_task(tones_dir, tmp_path / "s", overrides, max_steps=3)
    assert Trainer(task).fit().status == "completed"
    state = load_checkpoint(tmp_path / "s" / "checkpoints" / "step_00000003.pt")
    assert set(state["models"]) == {"generator"} and set(state["optimizers"]) == {"generator"}
    logs = read_log(tmp_path / "s", "train")
    assert logs and all("loss_d" not in r and "adv/mpd" not in r for r in logs)

    y = torch.randn(2, 1024)
    target = task.targets(y)
    g = torch.Generator().manual_seed(0)
    noisy = target["phase"] + 0.5 * torch.randn(target["phase"].shape, generator=g)
    out = GeneratorOutput(target["log_amplitude"] + 0.1, noisy).complete(task.stft)
    terms = task.spectral_losses(out, target, y)
    form, boundary = task.config.loss.phase_form, task.config.loss.phase_boundary
    weight = amplitude_weight(target["spectrum"].abs())
    want = phase_losses(out.phase, target["phase"], form, boundary, weight)
    plain = phase_losses(out.phase, target["phase"], form, boundary)
    assert float(terms["phase_ip"]) == pytest.approx(float(want.ip), rel=1e-6)
    assert float(terms["phase_ptd"]) == pytest.approx(float(want.ptd), rel=1e-6)
    assert float(terms["phase_ip"]) != pytest.approx(float(plain.ip), rel=1e-3)


def test_generator_output_contract_and_config_errors():
    stft = STFT(N_FFT, HOP, N_FFT)
    y = torch.randn(2, 1024)
    spec = stft(y)
    out = GeneratorOutput(torch.log(spec.abs() + 1e-5), spec.angle()).complete(stft)
    assert out.audio.shape == (2, 1024) and torch.allclose(out.audio, y, atol=1e-3)
    with pytest.raises(ValueError, match="frequency bins"):
        GeneratorOutput(torch.zeros(2, 10, 33), torch.zeros(2, 10, 33)).complete(stft)
    with pytest.raises(ValueError, match="complex"):
        GeneratorOutput(torch.zeros(2, 65, 33), torch.zeros(2, 65, 33), torch.zeros(2, 65, 33)).complete(stft)
    with pytest.raises(ValueError, match=r"discriminators\.xyz"):
        TinyAPTask(from_dict(TinyAPConfig, {"discriminators": {"xyz": {}}})).build_models()
    with pytest.raises(ValueError, match=r"discriminators\.mpd\.options"):
        build_discriminator(
            "mpd", from_dict(type(TinyAPConfig().discriminators["mpd"]), {"options": {"bogus": 1}})
        )
