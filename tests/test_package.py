"""Repository-level checks: citation metadata and the architecture doc stay complete."""

import pkgutil
from pathlib import Path

import yaml

import audiokit

ROOT = Path(__file__).resolve().parents[1]


def test_citation_cff_lists_the_five_papers():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "references"):
        assert cff.get(key), key
    titles = " ".join(r["title"] for r in cff["references"])
    for needle in ("DDSP", "APNet", "Bandwidth Extension", "Audio Jailbreak", "Masker and Gain"):
        assert needle in titles, needle


def test_architecture_doc_mentions_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for info in pkgutil.iter_modules(audiokit.__path__):
        name = info.name + ("/" if info.ispkg else ".py")
        if f"audiokit/{name}" not in doc:
            missing.append(name)
    assert not missing, f"docs/architecture.md does not describe: {missing}"


def test_architecture_doc_has_one_row_per_module():
    import re

    doc = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `(audiokit/[^`]+)`", doc, flags=re.M)
    twice = sorted({r for r in rows if rows.count(r) > 1})
    assert not twice, f"docs/architecture.md describes these in more than one row: {twice}"


def test_version_is_single_sourced():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and 'attr = "audiokit.__version__"' in text
    assert audiokit.__version__.count(".") == 2
