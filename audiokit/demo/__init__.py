"""``audiokit demo``: the main job on bundled data.

Each subsystem contributes one step module in this package defining ``ORDER`` (an int, the
position in the run), ``TITLE`` and ``run(ctx: DemoContext) -> None``. Steps are discovered
automatically. A step writes its files under ``ctx.step_dir(name)`` and reports through
:meth:`DemoContext.add_table` / :meth:`DemoContext.add_text`; everything ends up in
``OUT_DIR/summary.md``.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from audiokit.io import atomic_write

__all__ = ["DemoContext", "discover_steps", "run_demo"]

log = logging.getLogger(__name__)


@dataclass
class DemoContext:
    """Output folder and the growing ``summary.md`` of a demo run."""

    out_dir: Path
    fast: bool = False
    precision: str = "fp32"  # inference precision of the vocoder and BWE steps ("fp32" or "bf16")
    sections: list[str] = field(default_factory=list)

    def step_dir(self, name: str) -> Path:
        d = self.out_dir / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def rel(self, path: Path) -> str:
        return str(Path(path).relative_to(self.out_dir))

    def add_text(self, text: str) -> None:
        self.sections.append(text.rstrip() + "\n")

    def add_table(self, header: list[str], rows: list[list[object]], caption: str | None = None) -> None:
        def fmt(v: object) -> str:
            return f"{v:.3f}" if isinstance(v, float) else str(v)

        lines = ([f"{caption}\n"] if caption else []) + [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(fmt(v) for v in r) + " |" for r in rows),
        ]
        self.add_text("\n".join(lines))

    def add_image(self, path: Path, alt: str) -> None:
        self.add_text(f"![{alt}]({self.rel(path)})")

    def write_summary(self) -> Path:
        path = self.out_dir / "summary.md"
        with atomic_write(path) as tmp:
            tmp.write_text("# audiokit demo\n\n" + "\n".join(self.sections), encoding="utf-8")
        return path


def discover_steps() -> list:
    """Step modules of this package, in ``ORDER``."""
    pkg = importlib.import_module(__name__)
    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "run") and hasattr(mod, "ORDER"):
            mods.append(mod)
    return sorted(mods, key=lambda m: m.ORDER)


def run_demo(
    out_dir: str | Path, only: list[str] | None = None, fast: bool = False, precision: str = "auto"
) -> tuple[Path, list[str]]:
    """Run every demo step (or those named in ``only``); return the summary path and failed steps.

    ``precision`` (``auto``, ``fp32``, ``bf16``) is that of the vocoder and BWE steps; ``auto``
    follows the CPU (:func:`audiokit.device.resolve_precision`) and the choice is printed once.
    A failing step is reported in the summary and does not stop the others.
    """
    from audiokit.device import resolve_precision

    precision = resolve_precision(precision, announce=lambda m: print(f"[demo] {m}", flush=True))
    ctx = DemoContext(Path(out_dir), fast=fast, precision=precision)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for mod in discover_steps():
        name = mod.__name__.rsplit(".", 1)[-1]
        if only and name not in only:
            continue
        ctx.add_text(f"## {mod.TITLE}")
        t0 = time.perf_counter()
        print(f"[demo] {mod.TITLE} ...", flush=True)
        try:
            mod.run(ctx)
        except Exception as e:
            failed.append(name)
            log.error("demo step %s failed: %s", name, traceback.format_exc())
            ctx.add_text(f"**Step failed:** `{type(e).__name__}: {e}`")
        dt = time.perf_counter() - t0
        ctx.add_text(f"_({dt:.1f} s)_")
        print(f"[demo] {mod.TITLE}: {'FAILED' if name in failed else 'done'} in {dt:.1f} s", flush=True)
    return ctx.write_summary(), failed
