"""CPU detection and ``--precision auto``: bf16 only where it is native, fp32 elsewhere."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit import device
from audiokit.batch import MANIFEST_NAME
from audiokit.cli import main
from audiokit.device import CPUInfo, cpu_info, resolve_precision

AMX = CPUInfo("Intel Xeon", ("AVX2", "AVX512", "AVX512_BF16", "AMX"), "AVX512", True)
ZEN4 = CPUInfo("AMD EPYC", ("AVX2", "AVX512", "AVX512_BF16"), "AVX512", True)
SKYLAKE = CPUInfo("Intel Xeon", ("AVX2", "AVX512"), "AVX512", True)  # AVX-512 without bf16
ZEN3 = CPUInfo("AMD EPYC", ("AVX2",), "AVX2", False)


@pytest.fixture()
def fake_cpu(monkeypatch):
    """Replace the detection by a given :class:`CPUInfo` (and forget earlier announcements)."""

    def use(info: CPUInfo) -> None:
        monkeypatch.setattr(device, "cpu_info", lambda: info)
        monkeypatch.setattr(device, "_announced", set())

    return use


def test_native_bf16_needs_hardware_and_kernels():
    assert AMX.native_bf16 and ZEN4.native_bf16
    assert not SKYLAKE.native_bf16 and not ZEN3.native_bf16
    # hardware bf16 but torch's kernels forced to AVX2, or oneDNN limited below bf16: not native
    assert not CPUInfo("x", AMX.isa, "AVX2", True).native_bf16
    assert not CPUInfo("x", AMX.isa, "AVX512", False).native_bf16


def test_this_machine_is_described():
    info = cpu_info()
    assert info.kernels == torch.backends.cpu.get_cpu_capability()
    assert set(info.isa) <= {"AVX2", "AVX512", "AVX512_BF16", "AMX"}
    text = device.describe_cpu()
    assert info.model in text and info.kernels in text


def test_onednn_isa_limit_rules_out_bf16(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert device._onednn_bf16() is False
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    assert device._onednn_bf16() is False


@pytest.mark.parametrize(
    ("info", "expected"), [(AMX, "bf16"), (ZEN4, "bf16"), (SKYLAKE, "fp32"), (ZEN3, "fp32")]
)
def test_auto_follows_the_cpu_and_is_announced_once(fake_cpu, info, expected):
    fake_cpu(info)
    said = []
    assert resolve_precision("auto", announce=said.append) == expected
    assert resolve_precision("auto", announce=said.append) == expected
    assert len(said) == 1 and f"precision auto -> {expected}" in said[0] and info.model in said[0]
    for explicit in ("fp32", "bf16", "reference"):  # explicit choices pass through, silently
        assert resolve_precision(explicit, announce=said.append) == explicit
    assert len(said) == 1
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16")


@pytest.mark.parametrize(
    ("command", "info", "expected"),
    [("bwe", AMX, "bf16"), ("bwe", ZEN3, "fp32"), ("vocode", SKYLAKE, "fp32")],  # vocode bf16: ~10 s
)
def test_cli_default_is_auto(fake_cpu, tmp_path, capsys, command, info, expected):
    fake_cpu(info)
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(4000).astype(np.float32), 8000)
    assert main([command, str(src), str(tmp_path / "out"), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert out.err.count(f"precision auto -> {expected}") == 1
    assert f"{expected}):" in out.out  # the summary line names the precision used
    manifest = tmp_path / "out" / MANIFEST_NAME
    record = json.loads(manifest.read_text().splitlines()[0])
    assert record["precision"] == expected


def test_demo_default_is_auto(fake_cpu, tmp_path, capsys, monkeypatch):
    import audiokit.demo as demo

    seen = []
    monkeypatch.setattr(demo, "discover_steps", lambda: [_Step(seen)])
    fake_cpu(ZEN3)
    assert main(["demo", str(tmp_path / "demo"), "--fast"]) == 0
    assert seen == ["fp32"] and "[demo] precision auto -> fp32" in capsys.readouterr().out
    fake_cpu(ZEN4)
    assert main(["demo", str(tmp_path / "demo"), "--fast"]) == 0
    assert seen == ["fp32", "bf16"]
    assert main(["demo", str(tmp_path / "demo"), "--precision", "fp32"]) == 0
    assert seen[-1] == "fp32"


class _Step:
    """A demo step that records the precision it was given."""

    __name__ = "audiokit.demo.probe"
    ORDER = 0
    TITLE = "probe"

    def __init__(self, seen: list[str]):
        self.seen = seen

    def run(self, ctx) -> None:
        self.seen.append(ctx.precision)
