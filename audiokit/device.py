"""What the CPU can do, and the inference precision that follows from it.

``--precision auto`` (the default of ``audiokit vocode``, ``audiokit bwe`` and the demo) picks
bfloat16 only where the CPU computes it natively (AMX or AVX512_BF16) *and* torch's kernels may use
it; elsewhere bf16 is emulated and slower than float32, so auto picks fp32. Detection asks torch
(``torch.cpu._is_amx_tile_supported``/``_is_avx512_bf16_supported``, the kernel level
``torch.backends.cpu.get_cpu_capability()``, ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``) and
falls back to ``/proc/cpuinfo`` flags. Forcing torch's kernels down (``ATEN_CPU_CAPABILITY=avx2``,
``ONEDNN_MAX_CPU_ISA=AVX2``) makes auto pick fp32, as on a CPU without native bf16.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["CPUInfo", "PRECISIONS", "cpu_info", "describe_cpu", "native_bf16", "resolve_precision"]

log = logging.getLogger(__name__)

#: ``auto`` plus the concrete precisions of the fast inference engines.
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class CPUInfo:
    """The CPU model, the instruction sets that matter for speed, and torch's kernel level."""

    model: str
    isa: tuple[str, ...]  # subset of ("AVX2", "AVX512", "AVX512_BF16", "AMX"), hardware support
    kernels: str  # torch's ATen vector level in use: "AVX512", "AVX2", "DEFAULT", ...
    onednn_bf16: bool  # oneDNN accepts bf16 (False when ONEDNN_MAX_CPU_ISA rules it out)

    @property
    def native_bf16(self) -> bool:
        """bf16 runs natively: AMX or AVX512_BF16 in hardware, and torch's kernels may use it."""
        hardware = "AMX" in self.isa or "AVX512_BF16" in self.isa
        return hardware and self.onednn_bf16 and self.kernels.startswith("AVX512")

    def describe(self) -> str:
        isa = ", ".join(self.isa) or "no AVX2"
        return f"{self.model} [{isa}; torch kernels {self.kernels}]"


def _cpuinfo_flags() -> tuple[str, set[str]]:
    """``(model name, flags)`` from ``/proc/cpuinfo`` (empty where it does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "", set()
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def _torch_isa() -> dict[str, bool] | None:
    """Hardware ISA as torch's cpuinfo reports it; None where this torch lacks the queries."""
    cpu = getattr(torch, "cpu", None)
    names = {
        "AVX2": "_is_avx2_supported",
        "AVX512": "_is_avx512_supported",
        "AVX512_BF16": "_is_avx512_bf16_supported",
        "AMX": "_is_amx_tile_supported",
    }
    try:
        return {k: bool(getattr(cpu, v)()) for k, v in names.items()}
    except (AttributeError, RuntimeError):
        return None


def _onednn_bf16() -> bool:
    try:
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        supported = torch.backends.mkldnn.is_available()
    # oneDNN reports bf16 as "supported" on plain AVX-512 (emulated); a max ISA without BF16/AMX
    # rules out its native kernels.
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "")).upper()
    if limit and limit not in ("ALL", "DEFAULT") and "BF16" not in limit and "AMX" not in limit:
        return False
    return supported


@functools.lru_cache(maxsize=1)
def cpu_info() -> CPUInfo:
    """This machine's :class:`CPUInfo` (cached)."""
    model, flags = _cpuinfo_flags()
    isa = _torch_isa()
    if isa is None:
        isa = {
            "AVX2": "avx2" in flags,
            "AVX512": "avx512f" in flags,
            "AVX512_BF16": "avx512_bf16" in flags,
            "AMX": "amx_bf16" in flags,
        }
    try:
        kernels = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        kernels = "unknown"
    return CPUInfo(
        model=model or platform.processor() or platform.machine(),
        isa=tuple(k for k, v in isa.items() if v),
        kernels=kernels,
        onednn_bf16=_onednn_bf16(),
    )


def native_bf16() -> bool:
    """Whether bf16 inference is native (and so faster than fp32) on this CPU."""
    return cpu_info().native_bf16


def describe_cpu() -> str:
    """One line: CPU model, its AVX2/AVX512/AVX512_BF16/AMX support and torch's kernel level."""
    return cpu_info().describe()


_announced: set[tuple[str, str]] = set()


def resolve_precision(
    precision: str, device: str | torch.device = "cpu", announce: Callable[[str], None] | None = None
) -> str:
    """``"auto"`` -> ``"bf16"`` where bf16 is native (CPU: :func:`native_bf16`; CUDA: compute
    capability >= 8.0), else ``"fp32"``; other values (``fp32``, ``bf16``, ``reference``) pass
    through. The choice for ``auto`` is announced once per process and choice: passed to
    ``announce`` (e.g. ``print``), else logged at INFO."""
    if precision not in PRECISIONS and precision != "reference":
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        bf16 = torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
        why = torch.cuda.get_device_name(device) if torch.cuda.is_available() else "no CUDA"
    else:
        info = cpu_info()
        bf16 = info.native_bf16
        why = info.describe()
    chosen = "bf16" if bf16 else "fp32"
    if (str(device), chosen) not in _announced:
        _announced.add((str(device), chosen))
        reason = "native bf16" if bf16 else "no native bf16"
        (announce or log.info)(f"precision auto -> {chosen} ({reason}: {why})")
    return chosen
