"""Constraints (ESTOI, SNR, ASR with pocketsphinx, plug-ins) and targets (HTTP against a local
server, pocketsphinx keyword, plug-ins)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.perturb import (
    ASRConstraint,
    ESTOIConstraint,
    HTTPTarget,
    KeywordTarget,
    SNRConstraint,
    get,
    is_refusal,
    make_constraint,
    make_target,
)
from audiokit.perturb.asr import PocketSphinx, word_error_rate

CORPUS = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
]


def _noisy(x, sr, snr):
    return get("noise")().apply(x, sr, color="white", snr_db=snr, seed=1)


def test_estoi_is_monotone_in_noise_and_aligns_stretched_audio(speech16k):
    x, sr = speech16k
    c = ESTOIConstraint()
    vals = [c(x, _noisy(x, sr, s), sr) for s in (30, 15, 5, -5)]
    assert vals == sorted(vals, reverse=True) and vals[0] > 0.9 and vals[-1] < 0.6
    assert c.feasible(vals[0]) and not c.feasible(vals[-1])
    y = get("time_stretch")().apply(x, sr, rate=1.1)
    from audiokit.metrics import estoi

    n = y.shape[-1]
    assert estoi(x[:n], y, sr) < 0.1  # misaligned frames
    assert c(x, y, sr) > 0.45  # aligned by a stretch back (phase-vocoder smearing costs ESTOI)


def test_snr_constraint_closed_form_and_specs(speech16k):
    x, sr = speech16k
    y = _noisy(x, sr, 12.0)
    assert SNRConstraint()(x, y, sr) == pytest.approx(12.0, abs=0.05)
    assert make_constraint("snr:15").threshold == 15.0
    assert isinstance(make_constraint(None), ESTOIConstraint) and make_constraint(None).threshold == 0.6
    assert make_constraint({"name": "estoi", "threshold": 0.7}).threshold == 0.7
    plug = make_constraint("tests.perturb.plugin_fixtures:rms_ratio_constraint", threshold=0.9)
    assert plug(x, 0.5 * x, sr) == pytest.approx(0.5) and not plug.feasible(0.5)
    for bad in ("estoi:abc", "nonsense", "no.such.module:f"):
        with pytest.raises(ValueError):
            make_constraint(bad)


def test_word_error_rate_closed_form():
    assert word_error_rate("a b c d", "a x c d") == 0.25
    assert word_error_rate("a b c d", "a c d") == 0.25
    assert word_error_rate("a b", "a b c d") == 1.0
    assert word_error_rate("", "") == 0.0 and word_error_rate("", "a") == 1.0
    assert word_error_rate("Hello, World!", "hello world") == 0.0


def test_pocketsphinx_closed_vocabulary_transcribes_and_asr_constraint(speech16k):
    x, sr = speech16k
    rec = PocketSphinx(CORPUS)
    assert (
        rec.transcribe(x, sr).text
        == "the birch canoe slid on the smooth planks glue the sheet to the dark blue background"
    )
    # 48 kHz stereo input is mixed and resampled
    st = torch.stack([x, x]).numpy()
    import soxr

    up = soxr.resample(st.T, sr, 48000).T
    assert "canoe" in rec.transcribe(up, 48000).words
    ref = "the birch canoe slid on the smooth planks glue the sheet to the dark blue background"
    c = ASRConstraint(reference=ref, corpus=CORPUS)
    vals = [c(x, _noisy(x, sr, s), sr) for s in (40, 15, 0)]
    assert vals[0] == 1.0 and vals[-1] < 0.5 and vals == sorted(vals, reverse=True)
    self_consistent = ASRConstraint(corpus=CORPUS)  # against the transcript of the original
    assert self_consistent(x, x, sr) == 1.0
    with pytest.raises(ValueError, match="pronunciation dictionary"):
        PocketSphinx(["zzqxv blorptastic"]).transcribe(x, sr)


def test_keyword_target_is_graded_and_succeeds_when_the_word_is_gone(speech16k):
    x, sr = speech16k
    t = KeywordTarget("canoe", corpus=CORPUS)
    clean = t(x, sr)
    assert clean < 0.5 and not t.success(clean) and "canoe" in t.last_transcript
    gone = t(get("dropout")().apply(x, sr, start=0.0, duration_ms=2000.0, mode="silence"), sr)
    assert gone == 1.0 and t.success(gone)
    assert isinstance(make_target("keyword:canoe", corpus=CORPUS), KeywordTarget)
    with pytest.raises(ValueError, match="not in the corpus"):
        KeywordTarget("zebra", corpus=CORPUS)


class _Model(BaseHTTPRequestHandler):
    """A local stand-in for a model server: "refuses" loud audio, answers quiet audio."""

    hits = 0

    def do_POST(self):  # noqa: N802
        type(self).hits += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers["Content-Type"] == "application/json":
            import base64
            import io

            payload = json.loads(body)
            data, sr = sf.read(io.BytesIO(base64.b64decode(payload["audio"])))
            assert payload["sample_rate"] == sr
        else:
            import io

            data, sr = sf.read(io.BytesIO(body))
        if self.path == "/slow":
            import time

            time.sleep(2.0)
        loud = float(np.sqrt(np.mean(np.asarray(data) ** 2))) > 0.05
        reply = "I'm sorry, I can't assist with that." if loud else "Here is the weather forecast for today."
        out = json.dumps({"response": reply, "sr": sr}).encode() if self.path != "/text" else reply.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # the client timed out on /slow: expected
        pass


@pytest.fixture
def server():
    srv = _Server(("127.0.0.1", 0), _Model)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    th.join(timeout=5)


def test_http_target_against_a_local_server(server):
    loud = 0.3 * torch.randn(1, 8000)
    quiet = 0.01 * torch.randn(1, 8000)
    t = HTTPTarget(server + "/", timeout=5)
    assert t(loud, 8000) == 0.0 and is_refusal(t.last_reply)
    assert t(quiet, 8000) == 1.0 and t.success(1.0)
    tj = HTTPTarget(server + "/", encoding="json", extra={"prompt_id": 3}, timeout=5)
    assert tj(quiet, 8000) == 1.0
    tt = make_target(server + "/text", timeout=5)
    assert tt(loud, 8000) == 0.0 and tt.last_reply.startswith("I'm sorry")
    custom = HTTPTarget(server + "/", scorer=lambda reply: float(len(reply)), threshold=None, timeout=5)
    assert custom(quiet, 8000) == len("Here is the weather forecast for today.")


def test_http_target_times_out_and_retries_bounded(server):
    t = HTTPTarget(server + "/slow", timeout=0.3, retries=1)
    before = _Model.hits
    with pytest.raises(ConnectionError, match="no reply after 2 attempts"):
        t(0.01 * torch.randn(1, 800), 8000)
    assert _Model.hits - before == 2
    dead = HTTPTarget("http://127.0.0.1:9/", timeout=0.5, retries=0)  # discard port: refused at once
    with pytest.raises(ConnectionError):
        dead(torch.zeros(1, 80), 8000)
    with pytest.raises(ValueError, match="url"):
        HTTPTarget("ftp://x")


def test_refusal_keywords_and_plugin_targets():
    assert is_refusal("I'm sorry, but I cannot help") and is_refusal("AS AN AI model")
    assert not is_refusal("Sure! The capital of France is Paris.") and not is_refusal(None)
    t = make_target("tests.perturb.plugin_fixtures:make_low_band_target", cutoff_hz=1000.0)
    sr = 16000
    ts = np.arange(sr) / sr
    assert t(np.sin(2 * np.pi * 300 * ts), sr) > 0.99 and t.threshold == 0.995
    assert t(np.sin(2 * np.pi * 3000 * ts), sr) < 0.01
    for bad in ("tests.perturb.plugin_fixtures:nope", "no_such_module_xyz:f", "plainword"):
        with pytest.raises(ValueError):
            make_target(bad)
