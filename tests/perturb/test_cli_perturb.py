"""``audiokit perturb``: variants and search over folders, manifests, resume, formats, index files,
usage errors, interruption, and the demo step."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.cli import main
from audiokit.io import info, load, save
from audiokit.perturb import replay

PROMPTS = [  # benign, generated for the tests
    {"index": 0, "prompt": "What is the weather like in the city today?", "category": "weather"},
    {"index": 1, "prompt": "How long should I boil an egg for a soft yolk?", "category": "cooking"},
]


def _tree(root, speech16k, speech48k):
    x, sr = speech16k
    x48, sr48 = speech48k
    save(root / "a.wav", x[: sr * 2], sr)
    save(
        root / "sub" / "deep" / "b.flac", torch.stack([x48[:sr48], 0.5 * x48[:sr48]]), sr48, subtype="PCM_24"
    )
    save(root / "c.ogg", x[: sr * 2], sr, subtype="VORBIS")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (root / "notes.txt").write_text("not audio")


def _records(path):
    recs = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        recs[r["key"]] = r
    return recs


def test_variants_tree_formats_manifest_and_resume(tmp_path, speech16k, speech48k, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    _tree(src, speech16k, speech48k)
    args = ["perturb", str(src), str(out), "--variants", "2", "--seed", "7", "--no-progress",
            "--perturbations", "noise,peaking_eq,tone", "--constraint", "snr"]  # fmt: skip
    assert main(args) == 1  # broken.wav failed, the rest finished
    recs = _records(out / "manifest.jsonl")
    assert recs["broken__v000.wav"]["status"] == "error" and "broken.wav" in recs["broken__v000.wav"]["error"]
    ok = {k: r for k, r in recs.items() if r["status"] == "ok"}
    assert set(ok) == {"a__v000.wav", "a__v001.wav", "c__v000.ogg", "c__v001.ogg",
                       "sub/deep/b__v000.flac", "sub/deep/b__v001.flac"}  # fmt: skip
    b = info(out / "sub" / "deep" / "b__v000.flac")
    assert (b.sample_rate, b.channels, b.subtype) == (48000, 2, "PCM_24")
    assert info(out / "c__v001.ogg").subtype == "VORBIS" and info(out / "a__v000.wav").subtype == "PCM_16"
    r = ok["a__v000.wav"]
    for k in ("source", "output", "perturbations", "constraint", "seed", "audiokit_version", "sample_rate"):
        assert k in r, k
    assert [p["name"] for p in r["perturbations"]] == ["noise", "peaking_eq", "tone"]
    assert r["constraint"]["name"] == "snr" and np.isfinite(r["constraint"]["value"])
    assert ok["a__v000.wav"]["seed"] != ok["a__v001.wav"]["seed"]
    # the manifest records replay the output (up to 16-bit quantisation)
    x, sr = load(src / "a.wav")
    y, _ = load(out / "a__v000.wav")
    again = replay(r["perturbations"], x, sr)
    peak = float(again.abs().max())
    again = again * (0.999 / peak) if peak > 0.999 else again
    assert float((again - y).abs().max()) < 1e-4
    # rerun: outputs recorded as done are skipped, the failed input is retried
    n_lines = len((out / "manifest.jsonl").read_text().splitlines())
    assert main(args) == 1
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == n_lines + 2  # only the two broken variants again
    assert "6 skipped" in capsys.readouterr().out
    # fixing the input and rerunning completes the set with exit code 0
    (src / "broken.wav").unlink()
    assert main(args) == 0
    # same seed, fresh folder, sharded: identical outputs (seeds do not depend on order or shard)
    out2 = tmp_path / "out2"
    for i in range(2):
        assert main(args[:2] + [str(out2)] + args[3:] + ["--shard", f"{i}/2"]) == 0
    a1, _ = load(out / "sub" / "deep" / "b__v001.flac")
    a2, _ = load(out2 / "sub" / "deep" / "b__v001.flac")
    assert torch.equal(a1, a2)


def test_index_file_carries_metadata(tmp_path, speech16k):
    x, sr = speech16k
    root = tmp_path / "set"
    paths = ["audio/q0.wav", "audio/q1.mp3"]
    save(root / paths[0], x[:sr], sr)
    save(root / paths[1], x[:sr], sr, subtype=None)
    index = tmp_path / "index.jsonl"
    index.write_text("\n".join(json.dumps({**p, "speech_path": sp}) for p, sp in zip(PROMPTS, paths)))
    out = tmp_path / "out"
    assert (
        main(
            ["perturb", str(root), str(out), "--index", str(index), "--preset", "ajailbench", "--no-progress"]
        )
        == 0
    )
    recs = _records(out / "manifest.jsonl")
    assert recs["audio/q1.mp3"]["category"] == "cooking" and recs["audio/q0.wav"]["index"] == 0
    assert recs["audio/q0.wav"]["prompt"] == PROMPTS[0]["prompt"]
    assert sf.info(str(out / "audio" / "q1.mp3")).format == "MP3"
    assert recs["audio/q0.wav"]["perturbations"][0]["name"] == "ajailbench"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"prompt": "x"}]))
    assert main(["perturb", str(root), str(out), "--index", str(bad)]) == 2


def test_index_with_absolute_paths_of_the_same_name(tmp_path, speech16k):
    x, sr = speech16k
    a, b = tmp_path / "spk1" / "q.wav", tmp_path / "spk2" / "q.wav"
    save(a, x[:sr], sr)
    save(b, x[sr : 2 * sr], sr)
    index = tmp_path / "index.json"
    index.write_text(json.dumps([{"index": 7, "speech_path": str(a)}, {"index": 8, "speech_path": str(b)}]))
    out = tmp_path / "out"
    args = ["perturb", str(tmp_path), str(out), "--index", str(index), "--preset", "ajailbench"]
    assert main([*args, "--no-progress"]) == 0
    assert (out / "7_q.wav").exists() and (out / "8_q.wav").exists()
    assert not torch.equal(load(out / "7_q.wav")[0], load(out / "8_q.wav")[0])


def test_search_mode_with_a_plugin_target(tmp_path, speech16k):
    x, sr = speech16k
    src, out = tmp_path / "in", tmp_path / "out"
    save(src / "s.wav", x[: 2 * sr], sr)
    spec = "tests.perturb.plugin_fixtures:make_low_band_target"
    args = ["perturb", str(src), str(out), "--search", "--perturbations", "lowpass,gain", "--target", spec,
            "--target-arg", "cutoff_hz=500", "--target-arg", "threshold=0.95", "--constraint", "snr:-20",
            "--budget", "12", "--sampler", "tpe", "--seed", "1", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    r = _records(out / "manifest.jsonl")["s.wav"]
    assert r["status"] == "ok" and r["sampler"] == "tpe" and r["trials"] >= 1
    assert r["target"]["threshold"] == 0.95 and r["target"]["baseline"] < 0.95
    hist = json.loads(open(r["history"]).read())
    assert len(hist["history"]) == r["trials"] and r["queries"] == 1 + sum(
        h["queried"] for h in hist["history"]
    )
    assert r["success"] and r["target"]["score"] >= 0.95 and r["perturbations"][0]["name"] == "lowpass"
    y, _ = load(out / "s.wav")
    assert y.shape[-1] == 2 * sr
    assert main(args) == 0 and len((out / "manifest.jsonl").read_text().splitlines()) == 1  # resumed


def test_interrupt_leaves_a_consistent_manifest_and_resumes(tmp_path, speech16k):
    x, sr = speech16k
    src, out = tmp_path / "in", tmp_path / "out"
    save(src / "a_first.wav", x[:sr], sr)
    stop = torch.full((sr,), 0.123)
    save(src / "b_stop.wav", stop, sr)
    save(src / "c_last.wav", x[:sr], sr)
    args = ["perturb", str(src), str(out), "--perturbations", "gain", "--no-progress",
            "--target", "tests.perturb.plugin_fixtures:make_interrupting_target"]  # fmt: skip
    assert main(args) == 130
    recs = _records(out / "manifest.jsonl")
    assert list(recs) == ["a_first.wav"] and (out / "a_first.wav").exists()
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no temporary files left
    (src / "b_stop.wav").unlink()
    assert main(args) == 0
    assert set(_records(out / "manifest.jsonl")) == {"a_first.wav", "c_last.wav"}


def test_usage_errors_exit_2(tmp_path, speech16k, capsys):
    x, sr = speech16k
    src = tmp_path / "in"
    save(src / "a.wav", x[:sr], sr)
    out = str(tmp_path / "out")
    cases = [
        (["perturb", str(tmp_path / "missing"), out], "no such directory"),
        (["perturb", str(src), out, "--preset", "nope"], "unknown preset"),
        (["perturb", str(src), out, "--perturbations", "gain,warp"], "unknown perturbation"),
        (["perturb", str(src), out, "--search"], "needs a target"),
        (["perturb", str(src), out, "--search", "--target", "keyword:canoe", "--sampler", "cma"], "sampler"),
        (["perturb", str(src), out, "--search", "--target", "nonsense"], "unknown target"),
        (["perturb", str(src), out, "--variants", "0"], "variants"),
        (["perturb", str(src), str(src)], "differ"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2, argv
        assert msg in capsys.readouterr().err, argv
    cfg = tmp_path / "apt.yaml"
    cfg.write_text("mode: variants\nvariants: 1\nbogus: 3\n")
    assert main(["perturb", str(src), out, "--config", str(cfg)]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["perturb", "--list"]) == 0
    assert "pitch_shift" in capsys.readouterr().out
    assert main(["perturb", str(src)]) == 2 and "required" in capsys.readouterr().err


def test_config_file_and_workers(tmp_path, speech16k):
    x, sr = speech16k
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        save(src / f"f{i}.wav", x[: sr * 2] * (0.5 + 0.1 * i), sr)
    cfg = tmp_path / "apt.yaml"
    cfg.write_text(
        "mode: variants\nvariants: 1\nseed: 11\nperturbations:\n"
        "  - {name: noise, snr_db: [20, 30], color: [pink]}\n  - {name: lowpass, cutoff_hz: [3000, 6000]}\n"
    )
    assert main(["perturb", str(src), str(out), "--config", str(cfg), "--workers", "2", "--no-progress"]) == 0
    recs = _records(out / "manifest.jsonl")
    assert len(recs) == 3
    for r in recs.values():
        noise = r["perturbations"][0]["params"]
        assert 20 <= noise["snr_db"] <= 30 and noise["color"] == "pink"
    assert (out / "perturb_config.yaml").read_text().startswith("mode: variants")


def test_two_workers_give_the_same_outputs_and_records_as_one(tmp_path, speech16k):
    x, sr = speech16k
    src = tmp_path / "in"
    for i in range(3):
        save(src / f"s{i % 2}" / f"f{i}.wav", x[:sr] * (0.4 + 0.1 * i), sr)
    (src / "s0" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    recs = {}
    for w in (1, 2):
        out = tmp_path / f"out{w}"
        args = ["perturb", str(src), str(out), "--variants", "3", "--preset", "all", "--seed", "5"]
        assert main([*args, "--workers", str(w), "--no-progress"]) == 1  # the broken file fails
        recs[w] = _records(out / "manifest.jsonl")
    assert set(recs[1]) == set(recs[2]) and len(recs[1]) == 4 * 3
    for key, r1 in recs[1].items():
        r2 = recs[2][key]
        assert r1["status"] == r2["status"]
        if r1["status"] == "error":
            assert key.startswith("s0/broken__v") and r1["error"] == r2["error"]
            continue
        assert r1["perturbations"] == r2["perturbations"] and r1["seed"] == r2["seed"]
        assert (tmp_path / "out1" / key).read_bytes() == (tmp_path / "out2" / key).read_bytes()


@pytest.mark.slow
def test_demo_step_fast(tmp_path):
    assert main(["demo", str(tmp_path / "demo"), "--only", "perturb", "--fast"]) == 0
    summary = (tmp_path / "demo" / "summary.md").read_text()
    assert "APT" in summary and "Step failed" not in summary and "| gp |" in summary
    assert (tmp_path / "demo" / "perturb" / "variants.png").exists()
