"""Data safety of the batch commands (issue 14 rows 1-8, 11, 12, 15, 18; issue 13 item 3): each test
reproduces a user mistake or a fault with real files and, where it matters, real processes
(``kill -9`` of a worker, SIGINT to the process group, SIGKILL of the command, a read-only folder
made with ``chattr +i``/mode 0555, a full tmpfs where it can be mounted, else an injected ENOSPC)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audiokit.batch import MANIFEST_NAME, WORKER_DIED, BatchItem, Manifest, run_batch
from audiokit.cli import main
from tests.batch_helpers import (
    parent_of,
    read_only_dir,
    spawn,
    tagged_pids,
    wait_gone,
    write_speech,
)

PERTURB = ["--perturbations", "gain", "--no-progress"]


def _lines(path: Path) -> list[dict]:
    """Every line of a manifest parsed (a torn line fails the test)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# rows 1 and 5: OUT == IN, OUT above IN, OUT inside IN -------------------------------------------------
def _argv(command: str, src: Path, out: Path) -> list[str]:
    return {
        "vocode": ["vocode", str(src), str(out), "--no-progress"],
        "bwe": ["bwe", str(src), str(out), "--no-progress"],
        "perturb": ["perturb", str(src), str(out), *PERTURB],
        "timbre-transfer": ["synth", "timbre-transfer", str(src), str(out), "--model", "ddsp_tiny"],
    }[command]


@pytest.mark.parametrize("command", ["vocode", "bwe", "perturb", "timbre-transfer"])
def test_out_equal_to_or_above_in_is_refused_and_inputs_untouched(tmp_path, command, capsys):
    src = tmp_path / "set" / "in"
    write_speech(src, ["a.wav", "sub/b.wav"], seconds=0.5)
    before = _snapshot(tmp_path)
    for out in (src, src.parent):
        assert main(_argv(command, src, out)) == 2, out
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "must differ from IN_DIR" in err
    assert _snapshot(tmp_path) == before  # nothing overwritten, nothing added


@pytest.mark.parametrize("command", ["vocode", "perturb"])
def test_out_inside_in_is_left_out_of_discovery(tmp_path, command, capsys):
    src = tmp_path / "in"
    write_speech(src, ["a.wav", "b.wav"], seconds=0.5)
    argv = _argv(command, src, src / "out")
    assert main(argv) == 0
    assert main(argv) == 0  # rerun: only skips, the outputs are not new inputs
    assert "0 done, 2 skipped" in capsys.readouterr().out
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*.wav")) == [
        "a.wav",
        "b.wav",
        "out/a.wav",
        "out/b.wav",
    ]


# row 2: index paths that leave IN ---------------------------------------------------------------------
def test_index_path_outside_in_is_rejected(tmp_path, capsys):
    a = tmp_path / "a" / "b"
    (victim,) = write_speech(a, ["s00.wav"], seconds=0.5)
    write_speech(tmp_path / "set", ["s01.wav"], seconds=0.5)
    before = victim.read_bytes()
    for sp in ("../../a/b/s00.wav", str(victim)):
        index = tmp_path / "idx.json"
        index.write_text(json.dumps([{"speech_path": sp}]))
        out = tmp_path / "c" / "d"
        assert main(["perturb", str(tmp_path / "set"), str(out), "--index", str(index), *PERTURB]) == 2
        assert "outside IN_DIR" in capsys.readouterr().err
        assert not out.exists() and victim.read_bytes() == before


# row 3: two inputs, one output ------------------------------------------------------------------------
def test_timbre_transfer_output_collision_is_an_error(tmp_path, capsys):
    src = tmp_path / "in"
    write_speech(src, ["s00.wav", "s00.flac"], seconds=0.5)
    assert main(["synth", "timbre-transfer", str(src), str(tmp_path / "out"), "--model", "ddsp_tiny"]) == 2
    err = capsys.readouterr().err
    assert "s00.flac" in err and "s00.wav" in err and "would both be written" in err
    assert not list((tmp_path / "out").glob("*.wav")) if (tmp_path / "out").exists() else True


# row 4: a non-UTF-8 file name -------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["vocode", "perturb"])
def test_non_utf8_file_name_fails_alone(tmp_path, command, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, ["a.wav", "z.wav"], seconds=0.5)
    bad = os.fsencode(src) + b"/caf\xe9.wav"
    with open(bad, "wb") as f:
        f.write((src / "a.wav").read_bytes())
    argv = _argv(command, src, out)
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert "2 done" in printed.out and "1 failed" in printed.out
    assert "not valid UTF-8" in printed.err and "caf\\xe9.wav" in printed.err
    assert (out / "a.wav").exists() and (out / "z.wav").exists()
    recs = _lines(out / MANIFEST_NAME)  # every line parses
    assert sorted(r["status"] for r in recs) == ["error", "ok", "ok"]
    assert main(argv) == 1 and "2 skipped" in capsys.readouterr().out  # a rerun does not stall on it


# row 6: OUT is a file, under a file, or read-only ----------------------------------------------------
def _assert_one_line_rc2(src: Path, out: Path, tmp_path: Path, capsys) -> None:
    for argv in (
        *(_argv(c, src, out) for c in ("vocode", "bwe", "perturb", "timbre-transfer")),
        ["export", str(tmp_path), str(out)],
        ["demo", str(out), "--only", "frontend"],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(out) in err, (argv, err)


def test_out_that_is_a_file_is_one_line_naming_the_path(tmp_path, capsys):
    src = tmp_path / "in"
    write_speech(src, ["a.wav"], seconds=0.5)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        _assert_one_line_rc2(src, out, tmp_path, capsys)
    assert a_file.read_text() == "x"


def test_read_only_out_is_one_line_naming_the_path(tmp_path, capsys):
    src = tmp_path / "in"
    write_speech(src, ["a.wav"], seconds=0.5)
    with read_only_dir(tmp_path / "ro") as ro:
        for out in (ro / "out", ro):
            _assert_one_line_rc2(src, out, tmp_path, capsys)


# row 7: a full disk -----------------------------------------------------------------------------------
def test_full_disk_in_the_manifest_stops_cleanly_with_no_torn_line(tmp_path, monkeypatch, capsys):
    """Injected: the third manifest line is written half (a short write), then ENOSPC."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, [f"f{i}.wav" for i in range(5)], seconds=0.3)
    real_write, calls = os.write, {"n": 0}

    def write(fd, data):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) == MANIFEST_NAME and len(data) > 1:
            calls["n"] += 1
            if calls["n"] == 3:
                return real_write(fd, data[: len(data) // 2])
            if calls["n"] > 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    assert main(["perturb", str(src), str(out), *PERTURB]) == 1
    err = capsys.readouterr().err
    assert "no space left on device" in err and "Traceback" not in err
    assert len(_lines(out / MANIFEST_NAME)) == 2  # two whole lines, the torn third one removed
    monkeypatch.setattr(os, "write", real_write)
    assert main(["perturb", str(src), str(out), *PERTURB]) == 0  # a rerun resumes
    assert "3 done, 2 skipped" in capsys.readouterr().out
    assert sorted(r["key"] for r in _lines(out / MANIFEST_NAME)) == [f"f{i}.wav" for i in range(5)]


def test_full_disk_while_writing_an_output_is_named(tmp_path, monkeypatch, capsys):
    """Injected at the output: ``audiokit.io.save`` raises ENOSPC for the second file."""
    import audiokit.io

    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, [f"f{i}.wav" for i in range(4)], seconds=0.3)
    real_save, n = audiokit.io.save, {"n": 0}

    def save(*a, **k):
        n["n"] += 1
        if n["n"] >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(*a, **k)

    monkeypatch.setattr(audiokit.io, "save", save)
    assert main(["perturb", str(src), str(out), *PERTURB]) == 1
    printed = capsys.readouterr()
    assert "1 done" in printed.out and "1 failed" in printed.out and "(stopped)" in printed.out
    assert "error: no space left on device" in printed.err
    assert [r["status"] for r in _lines(out / MANIFEST_NAME)] == ["ok", "error"]


def test_full_tmpfs(tmp_path, capsys):
    """A real full file system: a 200 KiB tmpfs (needs root or CAP_SYS_ADMIN to mount)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        src = tmp_path / "in"
        write_speech(src, [f"f{i}.wav" for i in range(6)], seconds=2.0)  # 64 KB each
        assert main(["vocode", str(src), str(mnt / "out"), "--no-progress"]) == 1
        printed = capsys.readouterr()
        assert "no space left on device" in printed.err and "(stopped)" in printed.out
        recs = _lines(mnt / "out" / MANIFEST_NAME)  # no torn line
        assert recs and all(r["status"] == "ok" for r in recs[:-1])
        assert not list((mnt / "out").glob(".*.tmp*"))  # no temporary file left
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# row 8: a worker killed with SIGKILL ------------------------------------------------------------------
def _suicide_on_poison(item: BatchItem) -> dict:
    if item.key == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    Path(item.dst).write_text(item.key)
    return {}


def test_a_worker_that_always_dies_fails_its_item_and_the_batch_finishes(tmp_path):
    items = [BatchItem(k, k, str(tmp_path / k)) for k in ["a", "b", "poison", "c", "d", "e", "f"]]
    report = run_batch(items, _suicide_on_poison, tmp_path / MANIFEST_NAME, workers=2, progress=False)
    assert report.failures == [("poison", WORKER_DIED)]
    assert report.done == 6 and report.exit_code == 1
    assert {r["key"]: r["status"] for r in _lines(tmp_path / MANIFEST_NAME)}["poison"] == "error"


def test_kill_9_of_a_perturb_worker_retries_and_finishes(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, [f"f{i}.wav" for i in range(6)], seconds=0.3)
    target = "tests.perturb.plugin_fixtures:make_slow_target"
    proc = spawn(
        ["perturb", str(src), str(out), *PERTURB, "--variants", "2", "--workers", "2", "--target", target]
    )
    tag = proc.tag
    killed = None
    end = time.monotonic() + 120
    while killed is None and time.monotonic() < end and proc.poll() is None:
        # a worker: a descendant that is neither the command nor the forkserver (a child of it)
        if (out / MANIFEST_NAME).exists():
            workers = [p for p in tagged_pids(tag) if p != proc.pid and parent_of(p) != proc.pid]
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed = workers[0]
        time.sleep(0.02)
    stdout, stderr = proc.communicate(timeout=180)
    assert killed is not None, "the batch finished before a worker could be killed"
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "worker process died" in stderr
    recs = Manifest(out / MANIFEST_NAME).records()
    assert len(recs) == 12 and all(r["status"] == "ok" for r in recs.values())
    assert not wait_gone(tag, 5.0)


# issue 13 item 3: Ctrl-C during start-up, no process outlives the command ----------------------------
def test_ctrl_c_during_startup_is_one_line_130_and_leaves_no_process(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, [f"f{i}.wav" for i in range(4)], seconds=0.3)
    # the slow target (0.3 s a call) keeps the batch from finishing before the signal on a fast machine
    target = "tests.perturb.plugin_fixtures:make_slow_target"
    argv = ["perturb", str(src), str(out), *PERTURB, "--variants", "2", "--workers", "2", "--target", target]
    proc = spawn(argv)
    tag = proc.tag
    end = time.monotonic() + 60
    while len(tagged_pids(tag)) < 2 and time.monotonic() < end:  # the pool's server is starting
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    stdout, stderr = proc.communicate(timeout=120)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert proc.returncode == 130, (stdout, stderr)
    assert len(lines) == 1 and lines[0].endswith("interrupted; rerun to resume"), stderr
    assert not wait_gone(tag, 5.0)
    # a rerun completes, and no process is left once it has returned
    proc = spawn(argv)
    tag = proc.tag
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert not wait_gone(tag, 0.5), "a process outlived the command"
    assert len(Manifest(out / MANIFEST_NAME).done_keys()) == 8


def test_sigkill_of_the_command_takes_its_workers_down(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, [f"f{i}.wav" for i in range(6)], seconds=0.3)
    target = "tests.perturb.plugin_fixtures:make_slow_target"
    proc = spawn(
        ["perturb", str(src), str(out), *PERTURB, "--variants", "4", "--workers", "2", "--target", target]
    )
    tag = proc.tag
    end = time.monotonic() + 120
    while not (out / MANIFEST_NAME).exists() and time.monotonic() < end:
        time.sleep(0.02)
    assert len(tagged_pids(tag)) >= 3  # the command, the forkserver, workers
    proc.kill()
    proc.communicate(timeout=30)
    assert not wait_gone(tag, 10.0)


def test_interrupted_vocode_exits_130(tmp_path, monkeypatch, capsys):
    import audiokit.cli.vocode as vocode

    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, ["a.wav", "b.wav", "c.wav"], seconds=0.3)
    real = vocode.vocode_file

    def interrupt_on_b(item, spec):
        if item.key == "b.wav":
            raise KeyboardInterrupt
        return real(item, spec)

    monkeypatch.setattr(vocode, "vocode_file", interrupt_on_b)
    assert main(["vocode", str(src), str(out), "--no-progress"]) == 130
    assert capsys.readouterr().err.strip().endswith("interrupted; rerun to resume")
    assert list(Manifest(out / MANIFEST_NAME).records()) == ["a.wav"]


# issue 13 item 3: a missing optional package ----------------------------------------------------------
def test_missing_pocketsphinx_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # as if not installed
    src = tmp_path / "in"
    write_speech(src, ["a.wav"], seconds=0.3)
    for extra in (["--target", "keyword:clubs"], ["--search", "--target", "keyword:clubs"],
                  ["--constraint", "asr"]):  # fmt: skip
        assert main(["perturb", str(src), str(tmp_path / "out"), *PERTURB, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "pip install 'audiokit[asr]'" in err and "pocketsphinx" in err


# rows 11 and 12: settings stored with the job; a lock on OUT -----------------------------------------
def test_rerun_with_other_settings_stops_unless_forced(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, ["a.wav", "b.wav"], seconds=0.3)
    assert main(["perturb", str(src), str(out), *PERTURB, "--seed", "1"]) == 0
    cfg_before = (out / "perturb_config.yaml").read_text()
    outputs = _snapshot(out)
    assert (
        main(["perturb", str(src), str(out), "--preset", "ajailbench", "--seed", "5", "--no-progress"]) == 2
    )
    err = capsys.readouterr().err
    assert "other settings" in err and "seed: 1 -> 5" in err and "--force" in err
    assert (out / "perturb_config.yaml").read_text() == cfg_before and _snapshot(out) == outputs
    assert main(["perturb", str(src), str(out), "--preset", "ajailbench", "--seed", "5", "--no-progress",
                 "--force"]) == 0  # fmt: skip
    assert "2 done" in capsys.readouterr().out and "seed: 5" in (out / "perturb_config.yaml").read_text()
    assert json.loads((out / "job.json").read_text())["settings"]["seed"] == 5
    # another command into the same OUT is refused too
    assert main(["vocode", str(src), str(out), "--no-progress"]) == 2
    assert "audiokit perturb" in capsys.readouterr().err


def test_a_second_run_into_a_locked_out_refuses(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, ["a.wav"], seconds=0.3)
    out.mkdir()
    holder = subprocess.Popen(  # another process holding the job's lock, as a running job does
        [sys.executable, "-c", f"import fcntl, os, sys, time\nfd = os.open({str(out)!r}, os.O_RDONLY)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["perturb", str(src), str(out), *PERTURB]) == 2
        assert "another audiokit run is writing" in capsys.readouterr().err
        assert not (out / MANIFEST_NAME).exists()
        # the shards of one job share the lock with each other, not with a whole run
        assert main(["perturb", str(src), str(out), *PERTURB, "--shard", "0/2"]) == 2
    finally:
        holder.kill()
        holder.wait()
    assert main(["perturb", str(src), str(out), *PERTURB, "--shard", "0/2"]) == 0
    fd = os.open(out / ".audiokit.lock.1-of-2", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # shard 1 is running elsewhere: shard 0 still may run
        assert main(["perturb", str(src), str(out), *PERTURB, "--shard", "0/2"]) == 0
        assert main(["perturb", str(src), str(out), *PERTURB, "--shard", "1/2"]) == 2
    finally:
        os.close(fd)


def test_two_identical_runs_at_once_compute_each_item_once(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, [f"f{i}.wav" for i in range(4)], seconds=0.3)
    target = "tests.perturb.plugin_fixtures:make_slow_target"
    argv = ["perturb", str(src), str(out), *PERTURB, "--variants", "2", "--target", target]
    procs = [spawn(argv), spawn(argv)]
    results = [p.communicate(timeout=180) for p in procs]
    codes = sorted(p.returncode for p in procs)
    recs = _lines(out / MANIFEST_NAME)
    assert len(recs) == len({r["key"] for r in recs}) == 8  # no item computed twice
    assert codes in ([0, 0], [0, 2]), results  # the second one refused, or started after the first


# the manifest convention --------------------------------------------------------------------------------
def test_every_batch_command_keeps_manifest_jsonl_and_job_json(tmp_path):
    src = tmp_path / "in"
    write_speech(src, ["a.wav"], seconds=0.5)
    for command in ("vocode", "bwe", "perturb", "timbre-transfer"):
        out = tmp_path / command
        assert main(_argv(command, src, out)) == 0, command
        assert [r["status"] for r in _lines(out / MANIFEST_NAME)] == ["ok"]
        name = "synth timbre-transfer" if command == "timbre-transfer" else command
        assert json.loads((out / "job.json").read_text())["command"] == name
        assert not [p for p in out.iterdir() if p.name.startswith(".")]  # nothing hidden


def test_an_older_hidden_vocode_manifest_is_adopted(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    write_speech(src, ["a.wav"], seconds=0.5)
    assert main(["vocode", str(src), str(out), "--no-progress"]) == 0
    (out / MANIFEST_NAME).rename(out / ".audiokit_vocode.jsonl")  # as audiokit 0.x left it
    (out / "job.json").unlink()
    assert main(["vocode", str(src), str(out), "--no-progress"]) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert (out / MANIFEST_NAME).exists() and not (out / ".audiokit_vocode.jsonl").exists()


# row 15: a final rename that fails leaves no temporary file --------------------------------------------
def test_a_failed_final_rename_leaves_no_temp_file(tmp_path, capsys):
    from audiokit.io import atomic_write

    target = tmp_path / "res.csv"
    target.mkdir()  # a folder where the file should go: os.replace fails
    with pytest.raises(OSError), atomic_write(target) as tmp:
        tmp.write_text("a,b\n")
    assert [p.name for p in tmp_path.iterdir()] == ["res.csv"]
    ref = tmp_path / "ref"
    write_speech(ref, ["a.wav"], seconds=0.5)
    assert main(["eval", str(ref), str(ref), "--out", str(target), "--no-progress"]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref", "res.csv"]
