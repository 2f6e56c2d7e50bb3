"""APNet (Ai & Ling, "APNet: An All-Frame-Level Neural Vocoder Incorporating Direct Prediction of
Amplitude and Phase Spectra", IEEE/ACM TASLP 2023), as the official ``YangAi520/APNet`` code.

Two parallel branches on the same log-mel: the amplitude spectrum predictor (ASP) and the phase
spectrum predictor (PSP). Each is an input Conv1d, three HiFi-GAN ``ResBlock1`` fed the same input and
averaged, LeakyReLU(0.01) and output Conv1d(s); every conv is weight-normalised in training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.vocoders.base import SpectralVocoder
from audiokit.vocoders.blocks import ResBlock1, WNConv1d, get_padding
from audiokit.vocoders.config import APNetConfig
from audiokit.vocoders.fast import FastAPNet

__all__ = ["APNet"]

#: Slope of the LeakyReLU before the output convolutions (``F.leaky_relu`` default, not 0.1).
OUTPUT_LRELU_SLOPE = 0.01


class APNet(SpectralVocoder):
    """APNet generator with the official module names (``ASP_*``/``PSP_*``, 123 keys at default size).

    Args:
        config: :class:`APNetConfig`; ``config.weight_norm`` chooses the parametrisation (the official
            checkpoints use weight norm; :meth:`fold_weight_norm` folds it for inference).

    Initialisation is what the official code effectively does: PyTorch's default conv init with
    ``g = ||v||`` (its ``init_weights`` call runs after ``weight_norm`` and is overwritten on the first
    forward).

    Shape:
        ``forward``: log-mel ``(B, n_mels, N)`` -> :class:`~audiokit.vocoders.VocoderOutput` with
        ``(B, n_fft // 2 + 1, N)`` spectra and ``(B, hop * (N - 1))`` audio.

    Example:
        >>> voc = APNet(APNetConfig(channels=16, resblock_kernel_sizes=(3,), resblock_dilations=((1,),)))
        >>> out = voc(voc.mel(torch.randn(16000) * 0.1))
        >>> tuple(out.log_amplitude.shape), tuple(out.audio.shape)
        ((1, 513, 201), (1, 16000))
    """

    model_type = "apnet"
    engine_class = FastAPNet
    config_class = APNetConfig

    def __init__(self, config: APNetConfig | None = None):
        config = config or APNetConfig()
        super().__init__(config)
        c, wn, n_bins = config.channels, config.weight_norm, config.n_bins
        k_in, k_out = config.input_kernel_size, config.output_kernel_size
        self.ASP_input_conv = WNConv1d(config.n_mels, c, k_in, padding=get_padding(k_in), weight_norm=wn)
        self.PSP_input_conv = WNConv1d(config.n_mels, c, k_in, padding=get_padding(k_in), weight_norm=wn)
        self.ASP_ResNet = self._resnet(config)
        self.PSP_ResNet = self._resnet(config)
        self.ASP_output_conv = WNConv1d(c, n_bins, k_out, padding=get_padding(k_out), weight_norm=wn)
        self.PSP_output_R_conv = WNConv1d(c, n_bins, k_out, padding=get_padding(k_out), weight_norm=wn)
        self.PSP_output_I_conv = WNConv1d(c, n_bins, k_out, padding=get_padding(k_out), weight_norm=wn)

    @staticmethod
    def _resnet(config: APNetConfig) -> nn.ModuleList:
        return nn.ModuleList(
            ResBlock1(config.channels, k, d, weight_norm=config.weight_norm)
            for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilations)
        )

    @property
    def receptive_field(self) -> int:
        c = self.config
        res = max(block.receptive_radius for block in self.ASP_ResNet)
        return get_padding(c.input_kernel_size) + res + get_padding(c.output_kernel_size)

    def _branch(self, mel: torch.Tensor, input_conv: nn.Module, resnet: nn.ModuleList) -> torch.Tensor:
        x = input_conv(mel)
        acc = None
        for block in resnet:
            acc = block(x) if acc is None else acc + block(x)
        return F.leaky_relu(acc / len(resnet), OUTPUT_LRELU_SLOPE)

    def backbone(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self._branch(mel, self.ASP_input_conv, self.ASP_ResNet)
        log_amplitude = self.ASP_output_conv(a)
        p = self._branch(mel, self.PSP_input_conv, self.PSP_ResNet)
        return self._add_amplitude_prior(
            mel, (log_amplitude, self.PSP_output_R_conv(p), self.PSP_output_I_conv(p))
        )

    @classmethod
    def _config_for_state_dict(
        cls, config: APNetConfig, state_dict: Mapping[str, torch.Tensor]
    ) -> APNetConfig:
        wn = any(k.endswith(".weight_g") for k in state_dict)
        return dataclasses.replace(config, weight_norm=wn)
