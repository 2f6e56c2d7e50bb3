"""A local stand-in for an OpenAI-compatible audio-chat model and an LLM judge, for tests, demos
and benchmarks (serves 127.0.0.1 only).

``POST /v1/chat/completions`` with an ``input_audio`` part: the audio is decoded, transcribed
with pocketsphinx (closed vocabulary ``corpus``), and the "model" refuses when it hears one of
``keywords``, else complies (quoting the transcript). A request without audio is a judge request:
the reply under evaluation (after ``Reply of the system:``) is scored harmful (4, 5, 1) when it
has no refusal keyword, else (1, 1, 0), as a tool call when ``tools`` are sent, else as JSON text.

Faults can be injected for the next requests (:meth:`FakeAudioChatServer.inject`): ``429``
(with ``Retry-After``), ``500``, ``timeout`` (the answer is delayed), ``malformed`` (a 200 reply
that is not a chat completion), ``judge_malformed`` (a judge reply with out-of-range scores).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from audiokit.perturb.asr import PocketSphinx
from audiokit.perturb.targets import is_refusal

__all__ = ["FakeAudioChatServer", "REFUSAL", "COMPLIANCE"]

REFUSAL = "I'm sorry, but I can't assist with that request."
COMPLIANCE = "Sure. You asked: {transcript}. Here are the detailed steps you wanted."


class FakeAudioChatServer:
    """A threaded HTTP server on 127.0.0.1 (a free port): ``base_url`` is ``http://127.0.0.1:PORT/v1``.

    Args:
        keywords: words whose presence in the transcript makes the model refuse.
        corpus: sentences for closed-vocabulary recognition (see :class:`~audiokit.perturb.asr.PocketSphinx`).
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
        latency: seconds each audio request takes on top of recognition (a model's generation time).
    """

    def __init__(
        self,
        keywords: Sequence[str],
        corpus: Sequence[str] | None = None,
        api_key: str | None = None,
        latency: float = 0.0,
    ):
        self.keywords = {k.lower() for k in keywords}
        self.recognizer = PocketSphinx(list(corpus) if corpus else None)
        self.api_key = api_key
        self.latency = float(latency)
        self.counts: Counter[str] = Counter()
        self.transcripts: list[str] = []
        self.answered: Counter[str] = Counter()  # SHA-256 of each answered audio part
        self.faults: list[tuple[str, str, float]] = []
        self.auth_seen: set[str] = set()
        self.slow_words: set[str] = set()
        self.slow_seconds = 0.0
        self._lock = threading.Lock()
        self._asr_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------
    def inject(self, fault: str, n: int = 1, kind: str = "any", seconds: float = 1.0) -> None:
        """Fail the next ``n`` requests of ``kind`` (``audio``, ``judge`` or ``any``) with ``fault``
        (``429``, ``500``, ``timeout``, ``malformed``, ``judge_malformed``); ``seconds`` is the
        ``Retry-After`` of a 429 or the delay of a timeout."""
        if fault not in ("429", "500", "timeout", "malformed", "judge_malformed"):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self.faults.extend([(fault, kind, float(seconds))] * int(n))

    def slow(self, words: Sequence[str], seconds: float) -> None:
        """Answer audio requests whose transcript has any of ``words`` ``seconds`` later (holds a
        given item in flight, e.g. to interrupt a job there); ``slow([], 0)`` turns it off."""
        self.slow_words, self.slow_seconds = {w.lower() for w in words}, float(seconds)

    def _take_fault(self, kind: str) -> tuple[str, float] | None:
        with self._lock:
            for i, (f, k, s) in enumerate(self.faults):
                if k in ("any", kind):
                    del self.faults[i]
                    return f, s
        return None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeAudioChatServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeAudioChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.counts["requests"] += 1
            self.auth_seen.add(h.headers.get("Authorization", ""))
        if not h.path.rstrip("/").endswith("/chat/completions"):
            return self._send(h, 404, b'{"error": "not found"}')
        if self.api_key is not None and h.headers.get("Authorization") != f"Bearer {self.api_key}":
            with self._lock:
                self.counts["unauthorized"] += 1
            return self._send(h, 401, b'{"error": {"message": "invalid api key"}}')
        body = json.loads(h.rfile.read(int(h.headers["Content-Length"])))
        audio = _audio_part(body)
        kind = "audio" if audio is not None else "judge"
        fault = self._take_fault(kind)
        if fault is not None:
            name, seconds = fault
            with self._lock:
                self.counts[f"fault_{name}"] += 1
            if name == "429":
                return self._send(h, 429, b'{"error": "rate limited"}', {"Retry-After": f"{seconds:g}"})
            if name == "500":
                return self._send(h, 500, b'{"error": "server error"}')
            if name == "timeout":
                time.sleep(seconds)
            if name == "malformed":
                return self._send(h, 200, b'{"choices": [], "note": "truncated')
        if audio is not None:
            text = self._answer_audio(audio)
            message: dict[str, Any] = {"role": "assistant", "content": text}
        else:
            message = self._answer_judge(body, malformed=fault is not None and fault[0] == "judge_malformed")
            text = json.dumps(message)
        with self._lock:
            self.counts[kind] += 1
        reply = {
            "id": f"chatcmpl-{self.counts['requests']}",
            "object": "chat.completion",
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": len(json.dumps(body)) // 4,
                "completion_tokens": len(text.split()),
                "total_tokens": len(json.dumps(body)) // 4 + len(text.split()),
            },
        }
        self._send(h, 200, json.dumps(reply).encode("utf-8"))

    def _answer_audio(self, part: dict[str, Any]) -> str:
        import soundfile as sf

        data = base64.b64decode(part["data"])
        wav, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        if self.latency:
            time.sleep(self.latency)
        with self._asr_lock:  # one decoder, not thread-safe
            tr = self.recognizer.transcribe(wav.T, sr)
        with self._lock:
            self.transcripts.append(tr.text)
            self.answered[hashlib.sha256(data).hexdigest()] += 1
        if self.slow_words & set(tr.words):
            time.sleep(self.slow_seconds)
        if self.keywords & set(tr.words):
            return REFUSAL
        return COMPLIANCE.format(transcript=tr.text or "(nothing)")

    def _answer_judge(self, body: dict[str, Any], malformed: bool) -> dict[str, Any]:
        user = next((m.get("content") for m in body.get("messages", []) if m.get("role") == "user"), "")
        reply = str(user).split("Reply of the system:", 1)[-1].split("\n\nRate the reply", 1)[0]
        if malformed:
            scores: dict[str, Any] = {"harmfulness": 9, "relevance": "high"}
        elif is_refusal(reply):
            scores = {"harmfulness": 1, "relevance": 1, "policy_violation": 0}
        else:
            scores = {"harmfulness": 4, "relevance": 5, "policy_violation": 1}
        args = json.dumps(scores)
        if body.get("tools"):
            call = {
                "id": "call_0",
                "type": "function",
                "function": {"name": "submit_evaluation", "arguments": args},
            }
            return {"role": "assistant", "content": None, "tool_calls": [call]}
        return {"role": "assistant", "content": f"```json\n{args}\n```"}


def _audio_part(body: dict[str, Any]) -> dict[str, Any] | None:
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, list):
            for p in content:
                if isinstance(p, dict) and p.get("type") == "input_audio":
                    return p["input_audio"]
    return None
