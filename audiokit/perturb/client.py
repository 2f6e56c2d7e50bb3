"""A client for OpenAI-compatible ``/chat/completions`` endpoints (OpenAI, vLLM, llama.cpp,
LiteLLM, ...), built for paid, rate-limited red-teaming jobs.

* the API key comes only from an environment variable named by the user (``api_key_env``); it is
  sent in the ``Authorization`` header and never stored, described or logged;
* every request has a timeout; timeouts, connection errors, HTTP 429/5xx and malformed replies are
  retried with exponential backoff (with jitter), honouring the server's ``Retry-After``;
* a :class:`ConcurrencyLimit` caps the requests in flight across every process of a job (lock
  files in a shared folder: each worker process of ``audiokit perturb --workers N`` takes a slot);
* a :class:`ResponseCache` keyed by the SHA-256 of the request body (so by the audio's hash and
  every request parameter) answers repeated requests from disk: a rerun or a resumed job never
  pays twice for the same query;
* :class:`Usage` counts requests, cache hits, retries and tokens (``usage`` of each reply).

Uses ``httpx`` (optional extra ``audiokit[redteam]``): a maintained client with per-phase
timeouts and connection pooling, and small; the ``openai`` package would add pydantic and its own
retry policy, which hides ``Retry-After`` handling and usage counting from us.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from audiokit.io import atomic_write

__all__ = [
    "ChatClient",
    "ChatError",
    "ChatReply",
    "ConcurrencyLimit",
    "ResponseCache",
    "Usage",
    "request_key",
    "require_httpx",
]

log = logging.getLogger(__name__)


class ChatError(RuntimeError):
    """A chat request failed for good (after the retries, or a non-retryable HTTP status)."""


def require_httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ImportError(
            "the openai target and the LLM judge need httpx: pip install 'audiokit[redteam]'"
        ) from None
    return httpx


@dataclass
class Usage:
    """Counters of one client: requests sent (``requests``, retries included), answered
    ``queries`` (cache hits included), ``cache_hits``, ``retries`` and ``usage`` tokens."""

    queries: int = 0
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def minus(self, before: Usage) -> Usage:
        a, b = self.to_dict(), before.to_dict()
        return Usage(**{k: a[k] - b[k] for k in a})

    def copy(self) -> Usage:
        return Usage(**self.to_dict())


@dataclass
class ChatReply:
    """A validated chat completion: the first choice's ``message``, the raw JSON ``data``, its
    cache ``key`` and whether it came from the cache."""

    message: dict[str, Any]
    data: dict[str, Any]
    key: str
    cached: bool

    @property
    def text(self) -> str:
        c = self.message.get("content")
        if isinstance(c, list):  # some servers return content parts
            return "".join(p.get("text", "") for p in c if isinstance(p, Mapping))
        return c or ""


def request_key(body: Mapping[str, Any], base_url: str) -> str:
    """SHA-256 of the endpoint and the canonical JSON of the request body (the audio enters as its
    base64 text, so two requests share a key exactly when audio and parameters are equal)."""
    blob = json.dumps({"url": base_url, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies on disk, one JSON file per request key (``root/ab/abcd....json``, atomic writes);
    safe to share between processes."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self._path(key)
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("%s: ignoring a corrupt cache entry", p)
            return None

    def put(self, key: str, data: Mapping[str, Any]) -> None:
        with atomic_write(self._path(key)) as tmp:
            tmp.write_text(json.dumps(data), encoding="utf-8")

    def drop(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.is_dir() else 0


class ConcurrencyLimit:
    """At most ``limit`` holders at once. With a ``folder``, the limit holds across processes:
    each holder locks one of ``limit`` slot files (``fcntl.flock``, released by the OS if a
    process dies); without one (or where ``fcntl`` is missing), within this process only."""

    def __init__(self, limit: int, folder: str | os.PathLike | None = None, poll: float = 0.01):
        if limit < 1:
            raise ValueError(f"concurrency must be >= 1, got {limit}")
        self.limit = int(limit)
        self.poll = float(poll)
        self._local = threading.BoundedSemaphore(self.limit)
        self.folder = None
        try:
            import fcntl  # noqa: F401
        except ImportError:  # pragma: no cover - Windows
            folder = None
        if folder is not None:
            self.folder = Path(folder)
            self.folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._local:
            if self.folder is None:
                yield
                return
            import fcntl

            start = random.randrange(self.limit)
            while True:
                for i in range(self.limit):
                    path = self.folder / f"slot{(start + i) % self.limit}.lock"
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        continue
                    try:
                        yield
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                        os.close(fd)
                    return
                time.sleep(self.poll)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatClient:
    """``POST {base_url}/chat/completions`` with timeouts, retries, a shared concurrency limit, a
    response cache and usage counters.

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        api_key_env: name of the environment variable holding the API key (``None``: no key, as
            for a local vLLM server); the variable must be set when it is named.
        timeout: seconds per request (connect at most 10 s of it).
        retries: retries after the first attempt (timeouts, connection errors, 408/409/425/429/5xx,
            malformed replies); the wait is ``backoff * 2**attempt`` (with jitter, at most
            ``max_backoff``), or the server's ``Retry-After`` when it says longer (at most
            ``max_retry_after``).
        concurrency: requests in flight at once, across every process sharing ``lock_dir``.
        cache_dir: folder of the :class:`ResponseCache` (``None``: no cache).
        lock_dir: folder of the concurrency slots (default ``cache_dir/slots``).
        headers: extra HTTP headers (never an ``Authorization`` header: use ``api_key_env``).
    """

    def __init__(
        self,
        base_url: str,
        api_key_env: str | None = None,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        concurrency: int = 4,
        cache_dir: str | os.PathLike | None = None,
        lock_dir: str | os.PathLike | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        hdrs = dict(headers or {})
        if any(k.lower() in ("authorization", "api-key", "x-api-key") for k in hdrs):
            raise ValueError("never pass the API key as a header: give its variable name as api_key_env")
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self._key: str | None = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ValueError(f"the environment variable {api_key_env} (api_key_env) is not set or empty")
            self._key = key
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_after = float(max_retry_after)
        self.headers = hdrs
        self.cache = ResponseCache(cache_dir) if cache_dir is not None else None
        if lock_dir is None and cache_dir is not None:
            lock_dir = Path(cache_dir) / "slots"
        self.limit = ConcurrencyLimit(concurrency, lock_dir)
        self.usage = Usage()
        self._lock = threading.Lock()
        self._http: Any = None

    def __getstate__(self) -> dict[str, Any]:  # picklable: the connection pool is per process
        d = dict(self.__dict__)
        d["_http"], d["_lock"] = None, None
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the key
        return f"ChatClient({self.base_url!r}, api_key_env={self.api_key_env!r})"

    def describe(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_key_env": self.api_key_env, "concurrency": self.limit.limit}

    def _client(self) -> Any:
        if self._http is None:
            httpx = require_httpx()
            t = httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))
            self._http = httpx.Client(timeout=t)
        return self._http

    def _count(self, **kw: int) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self.usage, k, getattr(self.usage, k) + v)

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        w = min(self.max_backoff, self.backoff * 2.0**attempt) * (0.5 + 0.5 * random.random())
        if retry_after is not None:
            w = max(w, min(retry_after, self.max_retry_after))
        return w

    def complete(self, body: Mapping[str, Any], use_cache: bool = True) -> ChatReply:
        """Send one chat-completions request (``body`` as the API's JSON) and return the first
        choice, from the cache when the same request was answered before."""
        body = dict(body)
        key = request_key(body, self.base_url)
        if use_cache and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self._count(queries=1, cache_hits=1)
                return ChatReply(_first_message(hit), hit, key, True)
        httpx = require_httpx()
        headers = {"Content-Type": "application/json", **self.headers}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        url = f"{self.base_url}/chat/completions"
        problem = "no attempt made"
        for attempt in range(self.retries + 1):
            retry_after = None
            try:
                with self.limit():
                    self._count(requests=1)
                    resp = self._client().post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                problem = f"timed out after {self.timeout:g} s"
            except httpx.TransportError as e:
                problem = f"connection failed ({type(e).__name__}: {e})"
            else:
                if resp.status_code == 200:
                    try:
                        data = resp.json()
                        message = _first_message(data)
                    except (ValueError, KeyError, IndexError, TypeError) as e:
                        problem = f"malformed reply ({e}): {resp.text[:120]!r}"
                    else:
                        u = data.get("usage") or {}
                        self._count(
                            queries=1,
                            prompt_tokens=int(u.get("prompt_tokens") or 0),
                            completion_tokens=int(u.get("completion_tokens") or 0),
                        )
                        if self.cache is not None:
                            self.cache.put(key, data)
                        return ChatReply(message, data, key, False)
                elif resp.status_code in _RETRY_STATUS:
                    retry_after = _retry_after(resp.headers.get("retry-after"))
                    problem = f"HTTP {resp.status_code}"
                else:
                    auth = resp.status_code in (401, 403)
                    hint = f" (check the key in ${self.api_key_env})" if auth else ""
                    raise ChatError(f"{url}: HTTP {resp.status_code}{hint}: {resp.text[:200]}")
            if attempt < self.retries:
                w = self._wait(attempt, retry_after)
                log.warning("%s: %s; retry %d/%d in %.1f s", url, problem, attempt + 1, self.retries, w)
                self._count(retries=1)
                time.sleep(w)
        raise ChatError(f"{url}: no valid reply after {self.retries + 1} attempts (last: {problem})")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


def _first_message(data: Any) -> dict[str, Any]:
    """The first choice's message of a chat-completions reply; raises on any other shape."""
    if not isinstance(data, Mapping):
        raise TypeError("the reply is not a JSON object")
    if "error" in data and "choices" not in data:
        raise ValueError(f"the reply is an error: {str(data['error'])[:120]}")
    msg = data["choices"][0]["message"]
    if not isinstance(msg, Mapping):
        raise TypeError("choices[0].message is not an object")
    content = msg.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise TypeError("choices[0].message.content is neither text nor a list of parts")
    return dict(msg)
