"""``audiokit perturb report OUT_DIR``: per-category attack success tables of a finished search
(CSV, Markdown and a bar chart; see :mod:`audiokit.perturb.report`)."""

from __future__ import annotations


def run_report(out_dir: str | None) -> int:
    from audiokit.cli import CLIError
    from audiokit.perturb.report import write_report

    if not out_dir:
        raise CLIError("usage: audiokit perturb report OUT_DIR")
    paths = write_report(out_dir)
    print(paths["markdown"].read_text(encoding="utf-8"), end="")
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
