"""Helpers of the batch safety tests: real subprocesses, their descendants, read-only folders."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
TAG_VAR = "AUDIOKIT_TEST_TAG"


def write_speech(folder: Path, names: list[str], seconds: float = 1.0, sr: int = 16000) -> list[Path]:
    """Bundled speech cut to ``seconds`` and written under ``folder`` with each name (wav/flac)."""
    from audiokit.assets import speech_path

    x, file_sr = sf.read(speech_path("slt_16k.wav"), dtype="float32")
    assert file_sr == sr
    out = []
    for i, name in enumerate(names):
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        start = (i * sr // 3) % max(1, x.size - int(seconds * sr))
        sf.write(p, x[start : start + int(seconds * sr)], sr)
        out.append(p)
    return out


def spawn(args: list[str], tag: str | None = None, prelude: str = "") -> subprocess.Popen:
    """``python -c "<prelude>; audiokit.cli.main(args)"`` in a new session, its environment tagged
    so that every descendant can be found (:func:`tagged_pids`) even after re-parenting."""
    tag = tag or uuid.uuid4().hex
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{TAG_VAR: tag})
    # a terminal's Ctrl-C reaches a command with Python's handler, whatever this process's own
    # SIGINT disposition (torch.compile in an earlier test can leave it ignored; children inherit it)
    boot = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
    code = f"{boot}{prelude}\nimport sys\nfrom audiokit.cli import main\nsys.exit(main({args!r}))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    proc.tag = tag  # type: ignore[attr-defined]
    return proc


def tagged_pids(tag: str) -> list[int]:
    """Live (non-zombie) processes whose environment holds ``tag``."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle in (d / "environ").read_bytes().split(b"\0"):
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(d.name))
        except OSError:
            continue
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_gone(tag: str, seconds: float) -> list[int]:
    """Wait until no process carries ``tag`` (at most ``seconds``); return those still alive."""
    end = time.monotonic() + seconds
    while True:
        left = tagged_pids(tag)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


@contextlib.contextmanager
def read_only_dir(path: Path) -> Iterator[Path]:
    """A real folder in which nobody can create files: mode 0555 for a normal user; for root (who
    ignores modes) the immutable attribute (``chattr +i``), which binds root too."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:  # a file system without the attribute (e.g. some tmpfs)
        import pytest

        pytest.skip(f"root cannot make a read-only folder here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True, capture_output=True)
