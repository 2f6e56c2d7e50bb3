import json

import pytest

from audiokit.batch import BatchItem, Manifest, find_audio, map_parallel, parse_shard, run_batch, shard


def _write(item: BatchItem) -> dict:
    if "bad" in item.src:
        raise ValueError(f"{item.src}: corrupt")
    from pathlib import Path

    Path(item.dst).parent.mkdir(parents=True, exist_ok=True)
    Path(item.dst).write_text("x")
    return {"length": len(item.src)}


def _square(x: int) -> int:
    return x * x


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
