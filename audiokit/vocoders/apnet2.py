"""APNet2 (Du, Lu, Ai & Ling, "APNet2: High-quality and High-efficiency Neural Vocoder with Direct
Prediction of Amplitude and Phase Spectra", NCMMSC 2023), as the official ``redmist328/APNet2`` code.

Both branches: input Conv1d -> LayerNorm -> ConvNeXt-v2 blocks (with GRN) -> LayerNorm -> output
Conv1d(s), no weight norm. Naming trap kept from the official code: the amplitude branch uses
``norm2``/``convnext2``/``final_layer_norm2``, the phase branch the un-suffixed modules.

Because GRN normalises by an L2 norm over the **whole time axis**, every output frame depends on the
entire input: truncating, padding or chunking an utterance changes the output (see
:meth:`SpectralVocoder.synthesize`).
"""

from __future__ import annotations

import torch
from torch import nn

from audiokit.vocoders.base import SpectralVocoder
from audiokit.vocoders.blocks import ConvNeXtV2Block, get_padding
from audiokit.vocoders.config import APNet2Config
from audiokit.vocoders.fast import FastAPNet2

__all__ = ["APNet2"]


class APNet2(SpectralVocoder):
    """APNet2 generator with the official module names (178 keys at default size).

    Initialisation as the official ``_init_weights``: truncated normal (std 0.02) for every Conv1d and
    Linear weight, zero biases; LayerNorm (1, 0); GRN gamma = beta = 0.

    Shape:
        ``forward``: log-mel ``(B, n_mels, N)`` -> :class:`~audiokit.vocoders.VocoderOutput` with
        ``(B, n_fft // 2 + 1, N)`` spectra and ``(B, hop * (N - 1))`` audio.
    """

    model_type = "apnet2"
    engine_class = FastAPNet2
    config_class = APNet2Config
    global_context = True

    def __init__(self, config: APNet2Config | None = None):
        config = config or APNet2Config()
        super().__init__(config)
        d, n_bins = config.dim, config.n_bins
        k_in, k_out = config.input_kernel_size, config.output_kernel_size
        # registration order = the official state-dict order
        self.ASP_input_conv = nn.Conv1d(config.n_mels, d, k_in, padding=get_padding(k_in))
        self.PSP_input_conv = nn.Conv1d(config.n_mels, d, k_in, padding=get_padding(k_in))
        self.ASP_output_conv = nn.Conv1d(d, n_bins, k_out, padding=get_padding(k_out))
        self.PSP_output_R_conv = nn.Conv1d(d, n_bins, k_out, padding=get_padding(k_out))
        self.PSP_output_I_conv = nn.Conv1d(d, n_bins, k_out, padding=get_padding(k_out))
        self.norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.norm2 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.convnext = self._blocks(config)
        self.convnext2 = self._blocks(config)
        self.final_layer_norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.final_layer_norm2 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.apply(self._init_weights)

    @staticmethod
    def _blocks(config: APNet2Config) -> nn.ModuleList:
        return nn.ModuleList(
            ConvNeXtV2Block(
                config.dim, config.intermediate_dim, config.dwconv_kernel_size, config.layer_norm_eps
            )
            for _ in range(config.num_layers)
        )

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.constant_(m.bias, 0)

    @property
    def receptive_field(self) -> int:
        """Local receptive radius of the convolutions (GRN adds a global dependence on top)."""
        c = self.config
        return (
            get_padding(c.input_kernel_size)
            + c.num_layers * get_padding(c.dwconv_kernel_size)
            + get_padding(c.output_kernel_size)
        )

    @staticmethod
    def _branch(
        mel: torch.Tensor,
        input_conv: nn.Conv1d,
        norm: nn.LayerNorm,
        blocks: nn.ModuleList,
        final_norm: nn.LayerNorm,
    ) -> torch.Tensor:
        x = norm(input_conv(mel).transpose(1, 2)).transpose(1, 2)
        for block in blocks:
            x = block(x)
        return final_norm(x.transpose(1, 2)).transpose(1, 2)

    def backbone(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self._branch(mel, self.ASP_input_conv, self.norm2, self.convnext2, self.final_layer_norm2)
        log_amplitude = self.ASP_output_conv(a)
        p = self._branch(mel, self.PSP_input_conv, self.norm, self.convnext, self.final_layer_norm)
        return self._add_amplitude_prior(
            mel, (log_amplitude, self.PSP_output_R_conv(p), self.PSP_output_I_conv(p))
        )
