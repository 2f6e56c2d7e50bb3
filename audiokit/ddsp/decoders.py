"""The DDSP decoder: per-input fully connected stacks, a GRU over time, an output stack and heads.

Layer conventions follow magenta's Keras code so that a configuration means the same model: an Fc
layer is Dense -> LayerNorm (eps 1e-3) -> leaky ReLU with slope 0.2 (TF's default; PyTorch's is
0.01); Dense layers use Glorot-uniform weights and zero biases, the GRU orthogonal recurrent weights
(PyTorch's GRU is Keras' ``reset_after=True`` variant).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Fc", "FcStack", "RnnFcDecoder", "keras_init_"]


def keras_init_(module: nn.Module) -> None:
    """Glorot-uniform weights / zero biases for Linear layers; Glorot input and orthogonal recurrent
    weights for GRU/LSTM layers (Keras defaults), in place."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.GRU, nn.LSTM)):
            for name, p in m.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    gates = p.shape[0] // m.hidden_size
                    for g in range(gates):  # Keras: one orthogonal matrix per gate block
                        nn.init.orthogonal_(p.data[g * m.hidden_size : (g + 1) * m.hidden_size])
                elif name.startswith("bias"):
                    nn.init.zeros_(p)


class Fc(nn.Sequential):
    """Dense -> LayerNorm -> leaky ReLU: ``(B, F, in) -> (B, F, ch)``."""

    def __init__(self, in_features: int, ch: int, leaky_slope: float = 0.2):
        super().__init__(nn.Linear(in_features, ch), nn.LayerNorm(ch, eps=1e-3), nn.LeakyReLU(leaky_slope))


class FcStack(nn.Sequential):
    """``layers`` Fc layers of width ``ch`` (identity when ``layers == 0``)."""

    def __init__(self, in_features: int, ch: int, layers: int, leaky_slope: float = 0.2):
        super().__init__(*(Fc(in_features if i == 0 else ch, ch, leaky_slope) for i in range(layers)))
        self.out_features = ch if layers > 0 else in_features


class RnnFcDecoder(nn.Module):
    """magenta's ``RnnFcDecoder``: inputs ``{key: (B, F, d)}`` -> outputs ``{split: (B, F, size)}``.

    One FcStack per input (separate weights), concatenation, a GRU (or LSTM) over frames, then
    ``[input stacks, rnn]`` -> output FcStack -> Dense(sum of splits) -> split into a dict.

    Args:
        input_sizes: ``{input key: feature size}``, in the order the stacks are applied.
        output_splits: ``[(name, size), ...]`` of the output heads.
        rnn_channels, rnn_type: recurrent width and ``"gru"``/``"lstm"``.
        ch, layers_per_stack: width and depth of each Fc stack (0 layers: identity).
    """

    def __init__(
        self,
        input_sizes: dict[str, int],
        output_splits: Sequence[tuple[str, int]] = (
            ("amps", 1),
            ("harmonic_distribution", 60),
            ("noise_magnitudes", 65),
        ),
        rnn_channels: int = 512,
        rnn_type: str = "gru",
        ch: int = 512,
        layers_per_stack: int = 3,
        leaky_slope: float = 0.2,
    ):
        super().__init__()
        if rnn_type not in ("gru", "lstm"):
            raise ValueError(f"rnn_type must be 'gru' or 'lstm', got {rnn_type!r}")
        self.input_keys = list(input_sizes)
        self.output_splits = [(str(k), int(v)) for k, v in output_splits]
        self.input_stacks = nn.ModuleList(
            FcStack(size, ch, layers_per_stack, leaky_slope) for size in input_sizes.values()
        )
        stacked = sum(s.out_features for s in self.input_stacks)
        self.rnn = (nn.GRU if rnn_type == "gru" else nn.LSTM)(stacked, rnn_channels, batch_first=True)
        self.out_stack = FcStack(stacked + rnn_channels, ch, layers_per_stack, leaky_slope)
        self.dense_out = nn.Linear(self.out_stack.out_features, sum(v for _, v in self.output_splits))
        keras_init_(self)

    def forward(
        self, inputs: dict[str, torch.Tensor], state: torch.Tensor | None = None, return_state: bool = False
    ):
        """``inputs[key]`` ``(B, F)`` or ``(B, F, d)``; ``state``/``return_state`` carry the RNN state
        across calls for streaming."""
        xs = []
        for key, stack in zip(self.input_keys, self.input_stacks):
            if key not in inputs:
                raise KeyError(f"decoder input {key!r} missing (have {sorted(inputs)})")
            x = inputs[key]
            xs.append(stack(x[..., None] if x.dim() == 2 else x))
        h = torch.cat(xs, dim=-1)
        r, new_state = self.rnn(h, state)
        out = self.dense_out(self.out_stack(torch.cat([*xs, r], dim=-1)))
        result = dict(
            zip([k for k, _ in self.output_splits], out.split([v for _, v in self.output_splits], -1))
        )
        return (result, new_state) if return_state else result
