"""Batch jobs of ``audiokit perturb``: per-file variant generation and per-file search over
folders (or an AJailBench-style index), with :mod:`audiokit.batch` providing resume, process
pools, sharding and the append-only manifest.

The unit of work is a pure function of ``(config, item)``; per-output seeds derive from the base
seed and the output's relative path, so results do not depend on workers, order or shards.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from audiokit import __version__
from audiokit import io as audio_io
from audiokit.batch import BatchItem, find_audio, is_inside, parse_shard, shard
from audiokit.io import atomic_write, format_for, info, load
from audiokit.perturb.config import PerturbConfig
from audiokit.perturb.constraints import make_constraint
from audiokit.perturb.search import search
from audiokit.perturb.targets import make_target

__all__ = [
    "item_seed",
    "load_index",
    "find_metadata",
    "make_items",
    "perturb_variant",
    "perturb_search",
    "job_function",
    "HISTORY_DIR",
]

#: Folder under OUT_DIR holding one JSON search history per output.
HISTORY_DIR = "search_history"


def item_seed(base_seed: int, key: str) -> int:
    """A 63-bit seed from the base seed and an output key (stable across runs and machines)."""
    h = hashlib.sha256(f"{int(base_seed)}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


#: Metadata files of a Hugging Face ``audiofolder`` dataset (in the folder or a split subfolder).
HF_METADATA = ("metadata.jsonl", "metadata.csv")


def find_metadata(root: str | os.PathLike) -> list[Path]:
    """The Hugging Face audiofolder metadata files of ``root``: ``metadata.jsonl``/``.csv`` at the
    top, else one per split subfolder (``train/metadata.csv``, ...)."""
    root = Path(root)
    top = [root / n for n in HF_METADATA if (root / n).is_file()]
    if top:
        return top[:1]
    subs = sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    return [next(d / n for n in HF_METADATA if (d / n).is_file()) for d in subs if find_metadata(d)]


def load_index(path: str | os.PathLike, root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Read a benchmark index: AJailBench's JSON array or JSON lines of records with
    ``speech_path`` (and usually ``index``, ``prompt``, ``category``), or a Hugging Face
    audiofolder ``metadata.jsonl``/``metadata.csv`` whose ``file_name`` is relative to the
    metadata file (made relative to ``root`` when it lies inside it)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such index file")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        import csv
        import io

        records: list[Any] = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            data = json.loads(text)
            records = data if isinstance(data, list) else [data]
        except json.JSONDecodeError:
            records = []
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{p}:{n}: not JSON ({e.msg})") from None
    for i, r in enumerate(records):
        if isinstance(r, dict) and "speech_path" not in r and r.get("file_name"):
            sp = Path(os.path.abspath(p.parent / str(r.pop("file_name"))))
            if root is not None and sp.is_relative_to(os.path.abspath(root)):
                sp = Path(os.path.relpath(sp, os.path.abspath(root)))
            r["speech_path"] = str(sp)
        if not isinstance(r, dict) or "speech_path" not in r:
            raise ValueError(f"{p}: record {i} has no speech_path (or file_name)")
        if r.get("index") in (None, ""):
            r["index"] = i
    return records


def _variant_dst(rel: Path, out_dir: Path, i: int, n: int) -> tuple[str, Path]:
    rel_out = rel if n == 1 else rel.with_name(f"{rel.stem}__v{i:03d}{rel.suffix}")
    return str(rel_out), out_dir / rel_out


def make_items(
    in_dir: Path,
    out_dir: Path,
    cfg: PerturbConfig,
    shard_spec: str | None = None,
    index: str | os.PathLike | None = None,
) -> list[BatchItem]:
    """Batch items (one per output) for every audio file under ``in_dir`` or listed in ``index``
    (``speech_path`` relative to ``in_dir``, or absolute, inside ``in_dir`` either way), sharded by
    input file. Without an ``index``, a Hugging Face audiofolder's ``metadata.jsonl``/``.csv`` in
    ``in_dir`` is used. An ``out_dir`` inside ``in_dir`` is left out of the discovery.

    Raises:
        ValueError: an index path that leaves ``in_dir`` (its output could land outside
            ``out_dir`` or on an input), or two records with one output.
    """
    in_dir = Path(in_dir)
    entries: list[tuple[Path, Path, dict[str, Any]]] = []
    indexes = [Path(index)] if index is not None else (find_metadata(in_dir) if in_dir.is_dir() else [])
    if indexes:
        records = [r for ix in indexes for r in load_index(ix, in_dir)]
        for r in records:
            sp = Path(r["speech_path"])
            src = sp if sp.is_absolute() else in_dir / sp
            if not is_inside(src, in_dir):
                raise ValueError(
                    f"{index or in_dir}: record {r['index']}: speech_path {str(sp)!r} "
                    f"is outside IN_DIR {in_dir}"
                )
            # absolute paths keep only the file name, prefixed by the record's index so that two
            # files with the same name in different folders do not collide
            rel = Path(f"{r['index']}_{sp.name}") if sp.is_absolute() else Path(os.path.normpath(sp))
            meta = {k: r[k] for k in ("index", "prompt", "category") if k in r}
            extra = {k: v for k, v in r.items() if k not in ("index", "prompt", "category", "speech_path")}
            if extra:
                meta["metadata"] = extra
            entries.append((src, rel, meta))
        seen: dict[Path, Path] = {}
        for src, rel, _ in entries:
            if rel in seen and seen[rel] != src:
                raise ValueError(f"{indexes[0]}: records {seen[rel]} and {src} map to the same output {rel}")
            seen[rel] = src
    else:
        if not in_dir.is_dir():
            raise ValueError(f"{in_dir}: not a directory")
        entries = [(in_dir / r, r, {}) for r in find_audio(in_dir, exclude=[out_dir])]
    i, n = parse_shard(shard_spec)
    items = []
    nvar = cfg.variants if cfg.mode == "variants" else 1
    for src, rel, meta in shard(entries, i, n):
        for v in range(nvar):
            key, dst = _variant_dst(rel, out_dir, v, nvar)
            m = dict(meta)
            if cfg.mode == "variants":
                m["variant"] = v
            items.append(BatchItem(key=key, src=str(src), dst=str(dst), meta=m))
    return items


@functools.lru_cache(maxsize=8)
def _cached(kind: str, spec_json: str) -> Any:
    spec = json.loads(spec_json)
    return make_target(spec) if kind == "target" else make_constraint(spec)


def _build(kind: str, spec: Any) -> Any:
    """Targets and constraints are built once per worker process (models load once)."""
    if spec is None:
        return None
    return _cached(kind, json.dumps(spec, sort_keys=True))


@functools.lru_cache(maxsize=4)
def _read_cached(src: str, mtime_ns: int, size: int) -> tuple[Any, int, str | None]:
    meta = info(src)
    wav, sr = load(src)
    return wav, sr, meta.subtype


def _read(item: BatchItem) -> tuple[Any, int, str | None]:
    """Load an input (the variants of one file reuse the decoded audio within a worker)."""
    try:
        st = os.stat(item.src)
    except FileNotFoundError:
        raise FileNotFoundError(f"{item.src}: no such file") from None
    wav, sr, subtype = _read_cached(item.src, st.st_mtime_ns, st.st_size)
    return wav.clone(), sr, subtype


@functools.lru_cache(maxsize=4)
def _config(cfg_json: str) -> tuple[PerturbConfig, Any]:
    cfg = PerturbConfig.from_dict(json.loads(cfg_json))
    return cfg, cfg.chain()


def _save(item: BatchItem, wav: Any, sr: int, subtype: str | None) -> None:
    import soundfile as sf

    fmt = format_for(Path(item.dst))
    st = subtype if subtype and sf.check_format(fmt, subtype) else None
    audio_io.save(item.dst, wav, sr, subtype=st)  # looked up at call time: tests inject a full disk there


def _common(
    cfg: PerturbConfig, item: BatchItem, wav: Any, sr: int, subtype: str | None, seed: int
) -> dict[str, Any]:
    return {
        "source": item.src,
        "output": item.dst,
        "sample_rate": sr,
        "channels": int(wav.shape[0]),
        "subtype": subtype,
        "seed": seed,
        "mode": cfg.mode,
        "audiokit_version": __version__,
    }


def perturb_variant(cfg_dict: Mapping[str, Any], item: BatchItem) -> dict[str, Any]:
    """Worker: one random variant of ``item.src`` written to ``item.dst``; returns the manifest fields."""
    cfg, chain = _config(json.dumps(dict(cfg_dict), sort_keys=True))
    wav, sr, subtype = _read(item)
    seed = item_seed(cfg.seed, item.key)
    res = chain(wav, sr, seed)
    rec = _common(cfg, item, wav, sr, subtype, seed)
    rec["perturbations"] = res.to_dicts()
    rec["peak"] = res.peak
    con = _build("constraint", cfg.constraint)
    if con is not None:
        v = float(con(wav, res.wav, sr))
        rec["constraint"] = {**con.describe(), "value": v, "feasible": con.feasible(v)}
    tgt = _build("target", cfg.target)
    if tgt is not None:
        if hasattr(tgt, "set_item"):
            tgt.set_item(item.meta)
        s = float(tgt(res.wav, sr))
        rec["target"] = {**tgt.describe(), "score": s}
        rec["success"] = tgt.success(s)
        if isinstance(getattr(tgt, "last_info", None), dict):  # a model's reply and its verdict
            rec["reply"] = tgt.last_info.get("reply")
    _save(item, res.wav, sr, subtype)
    return rec


def perturb_search(cfg_dict: Mapping[str, Any], out_dir: str, item: BatchItem) -> dict[str, Any]:
    """Worker: search the best feasible perturbation of ``item.src`` against the target; writes it
    (or the unmodified input when no trial was feasible) and the full history as JSON."""
    cfg = PerturbConfig.from_dict(dict(cfg_dict))
    wav, sr, subtype = _read(item)
    seed = item_seed(cfg.seed, item.key)
    s = cfg.search
    tgt = _build("target", s.target)
    con = _build("constraint", s.constraint)
    if hasattr(tgt, "set_item"):  # reply targets: the benchmark prompt for the judges
        tgt.set_item(item.meta)
    usage0 = tgt.usage() if hasattr(tgt, "usage") else {}
    result = search(
        wav,
        sr,
        tgt,
        con,
        cfg.chain(),
        budget=cfg.budget,
        sampler=s.sampler,
        seed=seed % (2**31),
        n_startup=s.n_startup,
        peak=cfg.peak,
    )
    out = result.wav if result.wav is not None else wav
    hist_path = Path(out_dir) / HISTORY_DIR / (item.key + ".json")
    hist = {
        "source": item.src,
        "summary": result.summary(),
        "records": [r.to_dict() for r in result.records],
        "history": [h.to_dict() for h in result.history],
    }
    with atomic_write(hist_path) as tmp:
        tmp.write_text(json.dumps(hist, indent=1, default=str), encoding="utf-8")
    _save(item, out, sr, subtype)
    best = result.best
    rec = _common(cfg, item, wav, sr, subtype, seed)
    rec.update(
        perturbations=[r.to_dict() for r in result.records],
        found=result.wav is not None,
        success=result.success,
        constraint={**con.describe(), "value": None if best is None else best.constraint},
        target={
            **tgt.describe(),
            "score": None if best is None else best.score,
            "baseline": result.baseline_score,
        },
        trials=result.trials,
        queries=result.queries,
        sampler=s.sampler,
        peak=result.peak,
        history=str(hist_path),
    )
    if hasattr(tgt, "evaluate"):
        rec.update(_replies(tgt, result, usage0))
    return rec


def _replies(tgt: Any, result: Any, usage0: Mapping[str, Any]) -> dict[str, Any]:
    """Manifest fields of a reply target: the clean baseline reply and the kept perturbed reply,
    every metric judge's verdict on both, and the queries and tokens this item used."""
    base = result.baseline_info or {}
    best = result.best
    kept = (best.info.get("target") if best is not None and best.number >= 0 else None) or {}
    if best is None or best.number < 0:  # clean audio kept: it succeeded, or no trial was feasible
        kept = base
    out: dict[str, Any] = {
        "baseline_reply": base.get("reply"),
        "reply": kept.get("reply") if kept else None,
        "judgments": {
            "baseline": tgt.evaluate(base.get("reply")) if base else {},
            "best": tgt.evaluate(kept.get("reply")) if kept else {},
        },
    }
    after = tgt.usage()
    out["usage"] = {k: after[k].minus(usage0[k]).to_dict() for k in after if k in usage0}
    return out


def job_function(cfg: PerturbConfig, out_dir: Path) -> Any:
    """The picklable per-item function for :func:`audiokit.batch.run_batch`."""
    d = cfg.to_dict()
    if cfg.mode == "search":
        return functools.partial(perturb_search, d, str(out_dir))
    return functools.partial(perturb_variant, d)
