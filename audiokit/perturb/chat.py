"""Targets that send the audio to an audio-language model and judge its reply.

:class:`ReplyTarget` is the shared part: a judge (:mod:`audiokit.perturb.judges`) turns the
reply into the search score, further judges (``metrics``) are evaluated on the clean and the kept
replies for the report, and the item's text prompt (from the benchmark index) is passed to the
judges that need it. :class:`OpenAITarget` queries any OpenAI-compatible chat-completions
endpoint with an ``input_audio`` content part (OpenAI audio models, vLLM, ...); the local
transformers target lives in :mod:`audiokit.perturb.local`.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from audiokit.perturb.base import as_numpy
from audiokit.perturb.client import ChatClient, Usage
from audiokit.perturb.judges import Judge, JudgeError, make_judge
from audiokit.perturb.targets import Target

__all__ = ["ReplyTarget", "OpenAITarget", "encode_audio"]

log = logging.getLogger(__name__)

AUDIO_FORMATS = ("wav", "mp3")


def encode_audio(wav: Any, sr: int, fmt: str = "wav", sample_rate: int | None = None) -> bytes:
    """``(C, T)``/``(T,)`` float audio as a mono file in memory: 16-bit WAV or MP3 (libsndfile),
    resampled to ``sample_rate`` when given (soxr)."""
    import soundfile as sf

    if fmt not in AUDIO_FORMATS:
        raise ValueError(f"audio_format must be one of {', '.join(AUDIO_FORMATS)}, got {fmt!r}")
    x = as_numpy(wav, "audio").astype(np.float64)
    x = x.mean(axis=0) if x.ndim == 2 else x
    if sample_rate is not None and int(sample_rate) != int(sr):
        import soxr

        x, sr = soxr.resample(x, int(sr), int(sample_rate), quality="VHQ"), int(sample_rate)
    buf = io.BytesIO()
    x = np.clip(x, -1.0, 1.0)
    if fmt == "wav":
        sf.write(buf, x, int(sr), format="WAV", subtype="PCM_16")
    else:
        sf.write(buf, x, int(sr), format="MP3", bitrate_mode="CONSTANT", compression_level=0.5)
    return buf.getvalue()


def _names(v: str | Sequence[str] | None) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return [str(s) for s in v]


class ReplyTarget(Target):
    """A target that gets a text reply for the audio and scores it with a judge.

    Subclasses implement :meth:`reply`. ``judge`` (default ``refusal``) is the objective; its
    threshold is the success threshold unless ``threshold`` is given. ``metrics`` (default the
    objective alone) are the judges :meth:`evaluate` records for the report. ``last_info`` holds the
    last reply and its verdict (the search stores it in each trial's history).
    """

    name = "reply"

    def __init__(
        self,
        judge: str | Judge = "refusal",
        metrics: str | Sequence[str] | None = None,
        threshold: float | None = None,
        judge_client: ChatClient | None = None,
        judge_args: Mapping[str, Any] | None = None,
    ):
        ja = dict(judge_args or {})
        self._judge_args = ja
        self._judge_client = judge_client
        self.judge = self._make(judge)
        super().__init__(self.judge.threshold if threshold is None else threshold)
        names = _names(metrics) or [self.judge.name]
        self.metrics: dict[str, Judge] = {}
        for n in names:
            self.metrics[n] = self.judge if n == self.judge.name else self._make(n)
        self.prompt: str | None = None
        self.last_info: dict[str, Any] | None = None

    def _make(self, spec: str | Judge) -> Judge:
        if isinstance(spec, Judge):
            return spec
        kw: dict[str, Any] = {}
        if spec == "similarity":
            kw = {k: self._judge_args[k] for k in ("embedder", "max_similarity") if k in self._judge_args}
        elif spec == "llm":
            kw = {k: self._judge_args[k] for k in ("mode", "retries") if k in self._judge_args}
            kw["model"] = self._judge_args.get("model")
        return make_judge(spec, self._judge_client, **kw)

    def set_item(self, meta: Mapping[str, Any]) -> None:
        """The benchmark record being attacked (its ``prompt`` goes to the judges)."""
        p = meta.get("prompt")
        self.prompt = None if p is None else str(p)

    def reply(self, wav: Any, sr: int) -> str:
        raise NotImplementedError

    def __call__(self, wav: Any, sr: int) -> float:
        text = self.reply(wav, sr)
        v = self.judge(text, self.prompt)
        self.last_info = {"reply": text, "judge": {self.judge.name: v.to_dict()}}
        return float(v.score)

    def evaluate(self, reply: str | None) -> dict[str, Any]:
        """Every metric judge's verdict on ``reply`` (a judge that fails records its ``error``)."""
        out: dict[str, Any] = {}
        for name, j in self.metrics.items():
            try:
                out[name] = j(reply, self.prompt).to_dict()
            except (JudgeError, OSError, RuntimeError) as e:
                log.warning("judge %s failed: %s", name, e)
                out[name] = {"error": f"{type(e).__name__}: {e}"}
        return out

    def usage(self) -> dict[str, Usage]:
        """Usage counters by client (``target``, ``judge``)."""
        out: dict[str, Usage] = {}
        if self._judge_client is not None:
            out["judge"] = self._judge_client.usage.copy()
        return out

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "judge": self.judge.describe(),
            "metrics": [j.describe() for j in self.metrics.values()],
        }


class OpenAITarget(ReplyTarget):
    """An OpenAI-compatible chat-completions endpoint with the audio as an ``input_audio`` part.

    One user message holds the optional ``text`` and the audio (AJailBench: audio only, no
    system prompt); ``system`` adds a system message. ``temperature``, ``max_tokens``, ``seed``
    and ``modalities`` are sent when given, ``extra_body`` is merged into the request.
    Connection settings (``timeout``, ``retries``, ``concurrency``, ``cache_dir``) are those of
    :class:`~audiokit.perturb.client.ChatClient`. The LLM judge uses the same endpoint and key
    unless ``judge_base_url`` / ``judge_api_key_env`` are given (``judge_model`` is required).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = None,
        audio_format: str = "wav",
        sample_rate: int | None = None,
        system: str | None = None,
        text: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        modalities: Sequence[str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        concurrency: int = 4,
        cache_dir: str | None = None,
        judge: str = "refusal",
        metrics: str | Sequence[str] | None = None,
        threshold: float | None = None,
        embedder: str | None = None,
        max_similarity: float | None = None,
        judge_model: str | None = None,
        judge_base_url: str | None = None,
        judge_api_key_env: str | None = None,
        judge_mode: str = "tools",
        judge_retries: int = 2,
        **unknown: Any,
    ):
        if "api_key" in unknown:
            raise ValueError(
                "openai target: never pass the API key itself; put it in an environment variable and "
                "give its name as api_key_env=VAR"
            )
        if unknown:
            raise ValueError(f"openai target: unknown argument(s) {', '.join(sorted(unknown))}")
        if not base_url:
            raise ValueError("openai target: base_url=URL is required (e.g. https://api.openai.com/v1)")
        if not model:
            raise ValueError("openai target: model=NAME is required")
        if audio_format not in AUDIO_FORMATS:
            raise ValueError(f"openai target: audio_format must be wav or mp3, got {audio_format!r}")
        conn = {"timeout": timeout, "retries": retries, "backoff": backoff, "concurrency": concurrency}
        self.client = ChatClient(base_url, api_key_env, cache_dir=cache_dir, **conn)
        names = set(_names(metrics)) | {judge}
        jclient = None
        if "llm" in names:
            if judge_base_url is None and judge_api_key_env is None:
                jclient = ChatClient(base_url, api_key_env, cache_dir=cache_dir, **conn)
            else:
                jclient = ChatClient(
                    judge_base_url or base_url,
                    judge_api_key_env if judge_api_key_env is not None else api_key_env,
                    cache_dir=cache_dir,
                    **conn,
                )
        jargs: dict[str, Any] = {"mode": judge_mode, "retries": judge_retries}
        if judge_model is not None:
            jargs["model"] = judge_model
        if embedder is not None:
            jargs["embedder"] = embedder
        if max_similarity is not None:
            jargs["max_similarity"] = max_similarity
        super().__init__(judge, metrics, threshold, jclient, jargs)
        self.model = str(model)
        self.audio_format = audio_format
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        self.system = system
        self.text = text
        self.params = {
            k: v
            for k, v in (
                ("temperature", temperature),
                ("max_tokens", max_tokens),
                ("seed", seed),
                ("modalities", list(modalities) if modalities is not None else None),
            )
            if v is not None
        }
        self.extra_body = dict(extra_body or {})

    def body(self, wav: Any, sr: int) -> dict[str, Any]:
        """The chat-completions request for ``wav``."""
        data = base64.b64encode(encode_audio(wav, sr, self.audio_format, self.sample_rate)).decode("ascii")
        content: list[dict[str, Any]] = []
        if self.text:
            content.append({"type": "text", "text": self.text})
        content.append({"type": "input_audio", "input_audio": {"data": data, "format": self.audio_format}})
        messages: list[dict[str, Any]] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        messages.append({"role": "user", "content": content})
        return {"model": self.model, "messages": messages, **self.params, **self.extra_body}

    def reply(self, wav: Any, sr: int) -> str:
        return self.client.complete(self.body(wav, sr)).text

    def usage(self) -> dict[str, Usage]:
        return {"target": self.client.usage.copy(), **super().usage()}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            **self.client.describe(),
            "model": self.model,
            "audio_format": self.audio_format,
            **self.params,
        }
