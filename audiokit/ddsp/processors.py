"""Processors and the ProcessorGroup DAG (magenta/ddsp's ``processors.py`` and ``dags.py``).

A :class:`Processor` splits its work in two: ``get_controls(*network_outputs) -> dict`` turns raw
network outputs into physically meaningful controls (scaling, Nyquist masking) and
``get_signal(**controls) -> audio`` renders them. A :class:`ProcessorGroup` wires processors as a
DAG of named signals::

    group = ProcessorGroup([
        (Harmonic(), ["amps", "harmonic_distribution", "f0_hz"]),
        (FilteredNoise(), ["noise_magnitudes"]),
        (Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (Reverb(trainable=True), ["add/signal"]),
    ])
    audio = group({"amps": ..., "harmonic_distribution": ..., "f0_hz": ..., "noise_magnitudes": ...})

Input keys are ``/``-separated lookups into a dictionary that starts as ``{"inputs": inputs,
**inputs}``; each processor's result is stored under its ``name`` as ``{"signal", "controls"}`` and
the last node is also available as ``"out"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from audiokit.ddsp import core
from audiokit.ddsp.core import resample

__all__ = ["Processor", "ProcessorGroup", "Add", "Mix", "Crop", "nested_lookup", "resolve_scale_fn"]

TensorDict = dict[str, Any]


def resolve_scale_fn(fn: Callable | str | None) -> Callable | None:
    """A scale function given as a callable, ``None``/``"none"``, or a name: ``"exp_sigmoid"``,
    ``"sigmoid"``, ``"tanh"``, ``"softplus"``, ``"identity"``."""
    if fn is None or callable(fn):
        return fn

    table: dict[str, Callable | None] = {
        "exp_sigmoid": core.exp_sigmoid,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softplus": torch.nn.functional.softplus,
        "identity": None,
        "none": None,
    }
    if fn not in table:
        raise ValueError(f"unknown scale function {fn!r}; use one of {sorted(table)}")
    return table[fn]


class Processor(nn.Module):
    """Base class: ``forward(*inputs) = get_signal(**get_controls(*inputs))``."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def get_controls(self, *args: Any, **kwargs: Any) -> TensorDict:
        raise NotImplementedError

    def get_signal(self, **controls: Any) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, *args: Any, return_outputs_dict: bool = False, **kwargs: Any):
        controls = self.get_controls(*args, **kwargs)
        signal = self.get_signal(**controls)
        return {"signal": signal, "controls": controls} if return_outputs_dict else signal


def nested_lookup(key: str, outputs: Mapping[str, Any]) -> Any:
    """``"harmonic/signal"`` -> ``outputs["harmonic"]["signal"]`` (with a clear error)."""
    value: Any = outputs
    for part in key.split("/"):
        if not isinstance(value, Mapping) or part not in value:
            known = sorted(value) if isinstance(value, Mapping) else []
            raise KeyError(f"DAG input {key!r}: no {part!r} (available: {known})")
        value = value[part]
    return value


class ProcessorGroup(Processor):
    """Processors wired as a topologically sorted DAG of named signals.

    Args:
        dag: nodes ``(processor, [input keys])`` or ``(processor, [input keys], [output keys])``. A
            processor is a :class:`Processor` (stored as ``{"signal", "controls"}`` under its name);
            any other ``nn.Module``/callable is stored as its dict result, or under the output keys.
    """

    def __init__(self, dag: Sequence[tuple], name: str = "processor_group"):
        super().__init__(name)
        self.nodes: list[tuple[str, list[str], list[str] | None]] = []
        self.modules_by_name = nn.ModuleDict()
        self._callables: dict[str, Callable] = {}
        for node in dag:
            if len(node) not in (2, 3):
                raise ValueError(f"DAG node must be (module, inputs[, outputs]), got {node!r}")
            module, inputs = node[0], list(node[1])
            outputs = list(node[2]) if len(node) == 3 and node[2] is not None else None
            name = getattr(module, "name", None) or type(module).__name__.lower()
            if name in self.modules_by_name or name in self._callables or name in ("inputs", "out"):
                raise ValueError(f"duplicate or reserved DAG node name {name!r}")
            if isinstance(module, nn.Module):
                self.modules_by_name[name] = module
            elif callable(module):
                self._callables[name] = module
            else:
                raise ValueError(f"DAG node {name!r} is not callable")
            self.nodes.append((name, inputs, outputs))
        if not self.nodes:
            raise ValueError("a ProcessorGroup needs at least one node")

    def module(self, name: str) -> Callable:
        return self.modules_by_name[name] if name in self.modules_by_name else self._callables[name]

    def get_controls(self, inputs: Mapping[str, Any]) -> TensorDict:
        """Run the DAG: the full outputs dictionary (every node's result, and ``"out"``)."""
        outputs: TensorDict = {"inputs": dict(inputs), **inputs}
        for name, keys, out_keys in self.nodes:
            module = self.module(name)
            args = [nested_lookup(k, outputs) for k in keys]
            if isinstance(module, Processor):
                result = module(*args, return_outputs_dict=True)
            else:
                value = module(*args)
                if isinstance(value, Mapping):
                    result = dict(value)
                else:
                    values = value if isinstance(value, tuple) else (value,)
                    result = dict(zip(out_keys or ["signal"], values))
            outputs[name] = result
        outputs["out"] = outputs[self.nodes[-1][0]]
        return outputs

    def get_signal(self, outputs: TensorDict) -> torch.Tensor:
        return outputs["out"]["signal"]

    def forward(self, inputs: Mapping[str, Any], return_outputs_dict: bool = False):
        outputs = self.get_controls(inputs)
        signal = self.get_signal(outputs)
        return {"signal": signal, "controls": outputs} if return_outputs_dict else signal


def _match_length(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"signals differ in length: {a.shape[-1]} and {b.shape[-1]} samples")


class Add(Processor):
    """Sum of two signals."""

    def __init__(self, name: str = "add"):
        super().__init__(name)

    def get_controls(self, signal_one: torch.Tensor, signal_two: torch.Tensor) -> TensorDict:
        _match_length(signal_one, signal_two)
        return {"signal_one": signal_one, "signal_two": signal_two}

    def get_signal(self, signal_one: torch.Tensor, signal_two: torch.Tensor) -> torch.Tensor:
        return signal_one + signal_two


class Mix(Processor):
    """Constant-power cross-fade: ``sqrt(m) * one + sqrt(1 - m) * two`` with ``m = sigmoid(net)``.

    ``nn_out_mix_level`` ``(B, F)``/``(B, F, 1)`` is resampled linearly to the signal length. (magenta's
    ``Mix`` uses ``sqrt(m)`` and ``1 - sqrt(1 - m)``, whose powers do not sum to 1.)
    """

    def __init__(self, name: str = "mix"):
        super().__init__(name)

    def get_controls(
        self, signal_one: torch.Tensor, signal_two: torch.Tensor, nn_out_mix_level: torch.Tensor
    ) -> TensorDict:
        _match_length(signal_one, signal_two)
        level = torch.sigmoid(nn_out_mix_level)
        if level.dim() == 3:
            level = level[..., 0]
        if level.shape[-1] != signal_one.shape[-1]:
            level = resample(level, signal_one.shape[-1], "linear")
        return {"signal_one": signal_one, "signal_two": signal_two, "mix_level": level}

    def get_signal(
        self, signal_one: torch.Tensor, signal_two: torch.Tensor, mix_level: torch.Tensor
    ) -> torch.Tensor:
        m = mix_level.clamp(0.0, 1.0)
        return torch.sqrt(m) * signal_one + torch.sqrt(1.0 - m) * signal_two


class Crop(Processor):
    """Remove the ``2 * (frame_size // 2)`` samples added by centre padding (``"back"``, ``"front"``
    or ``"center"``)."""

    def __init__(self, frame_size: int, crop_location: str = "back", name: str = "crop"):
        super().__init__(name)
        if crop_location not in ("back", "front", "center"):
            raise ValueError(f"crop_location must be 'back', 'front' or 'center', got {crop_location!r}")
        self.frame_size = frame_size
        self.crop_location = crop_location

    def get_controls(self, audio: torch.Tensor) -> TensorDict:
        return {"audio": audio}

    def get_signal(self, audio: torch.Tensor) -> torch.Tensor:
        half = self.frame_size // 2
        if half == 0:
            return audio
        if self.crop_location == "front":
            return audio[:, 2 * half :]
        if self.crop_location == "center":
            return audio[:, half:-half]
        return audio[:, : -2 * half]
