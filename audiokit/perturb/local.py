"""A local audio-language model run with Hugging Face transformers (optional extra
``audiokit[transformers]``), Qwen2-Audio style: ``AutoProcessor`` + a ``...ForConditionalGeneration``
class, the processor's chat template with one audio item, greedy or sampled ``generate``.

AJailBench's Qwen2-Audio-7B-Instruct call is the default: one user turn holding only the audio,
no system prompt, audio resampled to the processor's rate, ``max_new_tokens=256``, fp16 on GPU.
Replies are cached on disk like the endpoint target's (key: model, audio, generation settings).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from audiokit.perturb.base import as_numpy
from audiokit.perturb.chat import ReplyTarget
from audiokit.perturb.client import ChatClient, ResponseCache, Usage

__all__ = ["TransformersTarget", "require_transformers"]

log = logging.getLogger(__name__)


def require_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ImportError("the transformers target needs: pip install 'audiokit[transformers]'") from None
    return transformers


class TransformersTarget(ReplyTarget):
    """An audio LLM from a local folder or the Hugging Face cache, on the user's device.

    Args:
        model: model folder or hub name (loaded with ``from_pretrained``; offline when cached).
        model_class: ``transformers`` class name (default ``Qwen2AudioForConditionalGeneration``)
            or ``package.module:Class``.
        device: ``cpu``, ``cuda``, ``cuda:1``, ... (default ``cuda`` when available).
        dtype: ``float16`` (default on GPU, as AJailBench), ``bfloat16`` or ``float32`` (CPU default).
        system, text: optional system message and text next to the audio (default: audio only).
        max_new_tokens: 256 as AJailBench; ``generate``: further ``generate`` keyword arguments
            (e.g. ``{do_sample: false}``).
        cache_dir: folder of the reply cache (``None``: no cache).
        judge, metrics, threshold, ...: as :class:`~audiokit.perturb.chat.OpenAITarget` (an ``llm``
            judge needs ``judge_base_url`` and ``judge_model``).
    """

    name = "transformers"

    def __init__(
        self,
        model: str | None = None,
        model_class: str = "Qwen2AudioForConditionalGeneration",
        device: str | None = None,
        dtype: str | None = None,
        system: str | None = None,
        text: str | None = None,
        max_new_tokens: int = 256,
        generate: Mapping[str, Any] | None = None,
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
        concurrency: int = 4,
        timeout: float = 60.0,
        retries: int = 5,
    ):
        if not model:
            raise ValueError("transformers target: model=PATH_OR_NAME is required")
        if max_new_tokens < 1:
            raise ValueError(f"transformers target: max_new_tokens must be >= 1, got {max_new_tokens}")
        names = {judge} | set(metrics.split(",") if isinstance(metrics, str) else (metrics or []))
        jclient = None
        if "llm" in names:
            if not judge_base_url:
                raise ValueError("transformers target: the llm judge needs judge_base_url (and judge_model)")
            jclient = ChatClient(
                judge_base_url,
                judge_api_key_env,
                timeout=timeout,
                retries=retries,
                concurrency=concurrency,
                cache_dir=cache_dir,
            )
        jargs: dict[str, Any] = {"mode": judge_mode, "retries": judge_retries}
        for k, v in (("model", judge_model), ("embedder", embedder), ("max_similarity", max_similarity)):
            if v is not None:
                jargs[k] = v
        super().__init__(judge, metrics, threshold, jclient, jargs)
        self.model_name = str(model)
        self.model_class = model_class
        self.device = device
        self.dtype = dtype
        self.system = system
        self.text = text
        self.max_new_tokens = int(max_new_tokens)
        self.generate_args = dict(generate or {})
        self.cache = ResponseCache(cache_dir) if cache_dir is not None else None
        self.stats = Usage()
        self._loaded: tuple[Any, Any, str] | None = None
        self.last_tokens: list[int] | None = None  # generated ids of the last uncached reply

    def _class(self) -> Any:
        tf = require_transformers()
        if ":" in self.model_class:
            mod, _, attr = self.model_class.partition(":")
            return getattr(importlib.import_module(mod), attr)
        if not hasattr(tf, self.model_class):
            raise ValueError(f"transformers has no class {self.model_class!r} (model_class)")
        return getattr(tf, self.model_class)

    def load(self) -> tuple[Any, Any, str]:
        """Processor, model and device (loaded once, on first use)."""
        if self._loaded is None:
            import torch

            tf = require_transformers()
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            name = self.dtype or ("float16" if device.startswith("cuda") else "float32")
            if name not in ("float16", "bfloat16", "float32"):
                raise ValueError(
                    f"transformers target: dtype must be float16, bfloat16 or float32, not {name!r}"
                )
            processor = tf.AutoProcessor.from_pretrained(self.model_name)
            model = self._class().from_pretrained(self.model_name, dtype=getattr(torch, name))
            model.to(device).eval()
            self._loaded = (processor, model, device)
        return self._loaded

    def conversation(self) -> list[dict[str, Any]]:
        """The chat: optional system message, one user turn with the audio (and optional text)."""
        content: list[dict[str, Any]] = [{"type": "audio", "audio_url": "input.wav"}]
        if self.text:
            content.append({"type": "text", "text": self.text})
        conv: list[dict[str, Any]] = []
        if self.system:
            conv.append({"role": "system", "content": self.system})
        conv.append({"role": "user", "content": content})
        return conv

    def _key(self, audio: np.ndarray, rate: int) -> str:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
        spec = {
            "model": self.model_name,
            "class": self.model_class,
            "dtype": self.dtype,
            "rate": rate,
            "conversation": self.conversation(),
            "max_new_tokens": self.max_new_tokens,
            "generate": self.generate_args,
        }
        h.update(json.dumps(spec, sort_keys=True, default=str).encode("utf-8"))
        return h.hexdigest()

    def reply(self, wav: Any, sr: int) -> str:
        import torch

        processor, model, device = self.load()
        rate = int(processor.feature_extractor.sampling_rate)
        x = as_numpy(wav, "audio").astype(np.float32)
        x = x.mean(axis=0) if x.ndim == 2 else x
        if int(sr) != rate:
            import soxr

            x = soxr.resample(x, int(sr), rate, quality="VHQ").astype(np.float32)
        key = self._key(x, rate)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.queries += 1
                self.stats.cache_hits += 1
                return str(hit["reply"])
        conv = self.conversation()
        prompt = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=prompt, audio=[x], sampling_rate=rate, return_tensors="pt", padding=True)
        inputs = {k: (v.to(device) if hasattr(v, "to") else v) for k, v in inputs.items()}
        fdt = next(model.parameters()).dtype
        if "input_features" in inputs:
            inputs["input_features"] = inputs["input_features"].to(fdt)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=self.max_new_tokens, **self.generate_args)
        n_in = inputs["input_ids"].shape[1]
        new = out[:, n_in:]
        self.last_tokens = [int(t) for t in new[0]]
        text = processor.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)[0]
        self.stats.queries += 1
        self.stats.requests += 1
        self.stats.prompt_tokens += int(n_in)
        self.stats.completion_tokens += int(new.shape[1])
        if self.cache is not None:
            tokens = {"prompt_tokens": int(n_in), "completion_tokens": int(new.shape[1])}
            self.cache.put(key, {"reply": text, **tokens})
        return text

    def usage(self) -> dict[str, Usage]:
        return {"target": self.stats.copy(), **super().usage()}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model": self.model_name,
            "model_class": self.model_class,
            "max_new_tokens": self.max_new_tokens,
        }
