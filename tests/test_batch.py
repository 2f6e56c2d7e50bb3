import json
import os
import subprocess
import sys

import pytest

from audiokit.batch import (
    BatchItem,
    Manifest,
    find_audio,
    map_parallel,
    parse_shard,
    run_batch,
    shard,
    start_pool,
)


def _write(item: BatchItem) -> dict:
    if "bad" in item.src:
        raise ValueError(f"{item.src}: corrupt")
    from pathlib import Path

    Path(item.dst).parent.mkdir(parents=True, exist_ok=True)
    Path(item.dst).write_text("x")
    return {"length": len(item.src)}


def _square(x: int) -> int:
    return x * x


def _where(x: int) -> tuple[int, int, int, bool]:
    """The worker's pid, torch threads, the item, and whether ``wave`` (a preload) is imported."""
    if x < 0:
        raise ValueError(f"negative {x}")
    import torch

    return os.getpid(), torch.get_num_threads(), x, "wave" in sys.modules


def test_find_audio_and_shard(tmp_path):
    for rel in ["a.wav", "sub/b.flac", "sub/c.txt", ".hidden/d.wav", "sub/.e.wav", "z.MP3"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    found = [str(p) for p in find_audio(tmp_path)]
    assert found == ["a.wav", "sub/b.flac", "z.MP3"]
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) == (0, 1)
    for bad in ["3/3", "x", "1/0", "-1/2"]:
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
    items = list(range(10))
    parts = [shard(items, i, 3) for i in range(3)]
    assert sorted(sum(parts, [])) == items


def test_run_batch_resumes_and_isolates_failures(tmp_path):
    items = [BatchItem(k, f"src/{k}", str(tmp_path / "out" / k)) for k in ["a", "bad", "c"]]
    man = Manifest(tmp_path / "manifest.jsonl")
    rep = run_batch(items, _write, man, progress=False, base_record={"version": "t"})
    assert (rep.done, rep.failed, rep.skipped) == (2, 1, 0) and rep.exit_code == 1
    recs = man.records()
    assert recs["bad"]["status"] == "error" and "corrupt" in recs["bad"]["error"]
    assert recs["a"]["length"] == len("src/a") and recs["a"]["version"] == "t"
    # rerun: done items are skipped, the failed one is retried
    rep2 = run_batch(items, _write, man, progress=False)
    assert (rep2.done, rep2.failed, rep2.skipped) == (0, 1, 2)
    # an output deleted by hand is redone even if recorded
    (tmp_path / "out" / "a").unlink()
    rep3 = run_batch(items, _write, man, progress=False)
    assert rep3.done == 1
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 3 + 1 + 2  # append-only


def test_manifest_tolerates_torn_last_line(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"key": "a", "status": "ok"}) + "\n" + '{"key": "b", "sta')
    m = Manifest(p)
    assert set(m.records()) == {"a"}
    m.append({"key": "b", "status": "ok"})
    assert m.done_keys() == {"a", "b"}


def test_map_parallel_process_pool():
    out = {item: res for item, ok, res, _ in map_parallel(_square, list(range(6)), workers=2, progress=False)}
    assert out == {i: i * i for i in range(6)}


def test_groups_run_as_one_task_in_a_preloaded_pool_with_per_item_errors():
    items = [0, 1, -2, 3, 4, 5, 6, 7]
    pool = start_pool(2, preload=("wave",))
    assert start_pool(1) is None
    try:
        got = list(map_parallel(_where, items, progress=False, group=lambda x: abs(x) // 4, pool=pool))
        assert sorted(g[0] for g in got) == sorted(items)
        res = {item: (ok, r) for item, ok, r, _ in got}
        assert res[-2] == (False, "ValueError: negative -2")  # the rest of its group still ran
        for lo in (0, 4):
            pids = {res[x][1][0] for x in range(lo, lo + 4) if x != 2 and res[x][0]}
            assert len(pids) == 1  # one group, one worker
        threads = max(1, (os.cpu_count() or 1) // 2)
        assert all(r[1] == threads and r[3] for ok, r in res.values() if ok)
        # the caller's pool stays usable for another batch
        again = {item: r for item, ok, r, _ in map_parallel(_square, [2, 3], progress=False, pool=pool)}
        assert again == {2: 4, 3: 9}
    finally:
        pool.shutdown()


def test_run_batch_with_groups_and_pool_resumes(tmp_path):
    items = [
        BatchItem(f"{f}_{v}", f"src/{f}", str(tmp_path / "out" / f"{f}_{v}")) for f in "ab" for v in range(3)
    ]
    items.insert(2, BatchItem("bad_0", "src/bad", str(tmp_path / "out" / "bad_0")))
    man = Manifest(tmp_path / "manifest.jsonl")
    with start_pool(2) as pool:
        rep = run_batch(items, _write, man, progress=False, group=lambda it: it.src, pool=pool)
        assert (rep.done, rep.failed) == (6, 1)
        assert man.records()["bad_0"]["status"] == "error"
        rep2 = run_batch(items, _write, man, progress=False, group=lambda it: it.src, pool=pool)
        assert (rep2.done, rep2.failed, rep2.skipped) == (0, 1, 6)
    assert len((tmp_path / "manifest.jsonl").read_text().splitlines()) == 7 + 1


def test_manifest_writer_flushes_each_record_and_heals_a_torn_line(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"key": "a", "status": "ok"}) + "\n" + '{"key": "b", "sta')
    m = Manifest(p)
    with m.writer(sync_seconds=3600) as w:
        w.append({"key": "b", "status": "ok"})
        assert m.done_keys() == {"a", "b"}  # visible to a reader (and to a rerun) before close
        w.append({"key": "c", "status": "error"})
    assert set(m.records()) == {"a", "b", "c"} and m.done_keys() == {"a", "b"}
    assert p.read_text().endswith("\n") and len(p.read_text().splitlines()) == 4


def test_batch_and_cli_parser_do_not_import_torch():
    """``audiokit perturb --workers N`` starts its pool before the heavy imports; that only helps
    while building the CLI stays light."""
    code = "import sys, audiokit.batch, audiokit.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
