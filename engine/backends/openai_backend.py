"""Generation through any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Works against ``vllm serve``, SpecLab's own :mod:`engine.backends.server` and hosted APIs.
Only the standard library is used (``urllib.request``): no SDK, no extra dependency.

Requests run in parallel (a thread pool of ``concurrency``), are spaced by an optional
token-bucket limiter, and are retried with exponential backoff and jitter on HTTP 429, 5xx,
timeouts and connection errors; a ``Retry-After`` header, when sent, sets the wait instead.
Errors name the URL and the HTTP status, never the API key.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from engine.backends.base import GenerationParams, Message, cut_at_stop
from engine.errors import EndpointError, SpecLabError

#: Environment variables read for the API key when none is passed, in this order.
API_KEY_ENV = ("SPECLAB_OPENAI_API_KEY", "OPENAI_API_KEY")

# Longest wait between two attempts, whatever the backoff or a Retry-After header asks for:
# a run should fail with a clear error rather than hang for hours on one request.
MAX_RETRY_WAIT_S = 120.0


class TokenBucket:
    """A thread-safe token bucket: at most ``per_minute`` acquisitions a minute on average.

    Each caller reserves the next free slot under the lock and sleeps outside it, so
    concurrent callers are spaced ``60 / per_minute`` seconds apart rather than waking at once.
    ``burst`` slots may be taken back to back after an idle spell.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"requests_per_minute must be positive, got {per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = per_minute / 60.0
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one slot; return how many seconds the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            # The balance may go negative: that is the queue of callers already waiting.
            self._tokens -= 1
            return wait

    def acquire(self) -> float:
        """Wait for the next slot; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


def _api_root(base_url: str) -> str:
    """``base_url`` without a trailing slash; a bare ``scheme://host[:port]`` gets ``/v1``.

    Like the OpenAI SDK, a URL with a path (``https://host/openai/v1``) is used as given.
    """
    url = base_url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SpecLabError(
            f"base URL {base_url!r} is not an http(s) URL; give one like http://127.0.0.1:8000/v1"
        )
    return url if parts.path else url + "/v1"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if usable."""
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
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _retryable(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible HTTP endpoint.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added to a bare
            ``http://host:port``).
        model: the model name the endpoint serves (see :meth:`list_models`).
        api_key: sent as ``Authorization: Bearer``; default from ``SPECLAB_OPENAI_API_KEY``,
            then ``OPENAI_API_KEY``; none is sent when all are empty (local servers).
        max_retries: retries after the first attempt on 429, 5xx and connection errors.
        timeout: seconds to wait for one HTTP answer.
        requests_per_minute: space requests so that at most this many start per minute.
        concurrency: requests in flight at once.
        backoff_base: the first retry waits about this long; each next one twice as long.
        clock: monotonic time source (injectable for tests).
        sleep: how to wait (injectable for tests).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        max_retries: int = 4,
        timeout: float = 60,
        requests_per_minute: float | None = None,
        concurrency: int = 4,
        backoff_base: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.base_url = _api_root(base_url)
        self.model = model
        self._api_key = api_key or next(
            (v for v in (os.environ.get(n) for n in API_KEY_ENV) if v), None
        )
        self.max_retries = max_retries
        self.timeout = timeout
        self.concurrency = concurrency
        self.backoff_base = backoff_base
        self._sleep = sleep
        self._limiter = (
            TokenBucket(requests_per_minute, clock=clock, sleep=sleep)
            if requests_per_minute
            else None
        )
        self._random = random.Random()

    def __repr__(self) -> str:
        # Never show the key, even in a traceback's locals or a log line.
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r})"

    # -- public API ----------------------------------------------------------------------

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[str]:
        """One reply per conversation, in input order; requests run ``concurrency`` at a time.

        Raises:
            EndpointError: a request still failed after the retries, or was refused (4xx).
        """
        convs = [list(c) for c in conversations]
        if not convs:
            return []
        if self.concurrency == 1 or len(convs) == 1:
            return [self._chat_one(c, params) for c in convs]
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(convs)), thread_name_prefix="openai"
        )
        futures: list[Future[str]] = [pool.submit(self._chat_one, c, params) for c in convs]
        try:
            return [f.result() for f in futures]
        finally:
            # On the first failure, drop the requests not yet started instead of sending them.
            pool.shutdown(wait=True, cancel_futures=True)

    def list_models(self) -> list[str]:
        """The model ids the endpoint serves (``GET /v1/models``)."""
        data = self._request("GET", "/models", None)
        try:
            return [str(m["id"]) for m in data["data"]]
        except (KeyError, TypeError) as exc:
            raise EndpointError(
                f"GET {self.base_url}/models answered JSON without a 'data' list of models "
                f"({exc!r}); is this an OpenAI-compatible API?",
                url=f"{self.base_url}/models",
                status=200,
                attempts=1,
            ) from None

    # -- internals -----------------------------------------------------------------------

    def _chat_one(self, messages: list[Message], params: GenerationParams) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "seed": params.seed,
            "n": 1,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        data = self._request("POST", "/chat/completions", body)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EndpointError(
                f"POST {self.base_url}/chat/completions answered JSON without "
                f"choices[0].message.content ({exc!r}); is this an OpenAI-compatible API?",
                url=f"{self.base_url}/chat/completions",
                status=200,
                attempts=1,
            ) from None
        # Servers apply `stop` themselves; cutting again keeps every backend's output alike.
        return cut_at_stop(str(content or ""), params.stop).strip()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        step = min(MAX_RETRY_WAIT_S, self.backoff_base * 2.0**attempt)
        return step / 2 + self._random.uniform(0, step / 2)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"

        attempts = 0
        status: int | None = None
        detail = ""
        while True:
            if self._limiter is not None:
                self._limiter.acquire()
            attempts += 1
            wait: float | None = None
            request = urllib.request.Request(url, data=payload, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
                try:
                    data = json.loads(raw)
                except ValueError:
                    raise EndpointError(
                        f"{method} {url} answered HTTP {response.status} with a body that is "
                        f"not JSON: {self._redact(raw[:200].decode('utf-8', 'replace'))!r}",
                        url=url,
                        status=response.status,
                        attempts=attempts,
                    ) from None
                if not isinstance(data, dict):
                    raise EndpointError(
                        f"{method} {url} answered a JSON {type(data).__name__}, not an object",
                        url=url,
                        status=response.status,
                        attempts=attempts,
                    )
                return data
            except urllib.error.HTTPError as exc:
                status = exc.code
                detail = self._error_detail(exc)
                if not _retryable(status):
                    hint = ""
                    if status in (401, 403):
                        hint = f"; check the API key ({' or '.join(API_KEY_ENV)})"
                    elif status == 404:
                        hint = f"; check the URL and the model name {self.model!r}"
                    raise EndpointError(
                        f"{method} {url} failed with HTTP {status}: {detail}{hint}",
                        url=url,
                        status=status,
                        attempts=attempts,
                    ) from None
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                # URLError wraps refused connections and DNS failures; a bare OSError or
                # HTTPException is a timeout or a connection dropped mid-answer.
                status = None
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                detail = self._redact(f"{type(reason).__name__}: {reason}")
            if attempts > self.max_retries:
                what = f"HTTP {status}" if status is not None else "a connection error"
                raise EndpointError(
                    f"{method} {url} failed with {what} after {attempts} attempts: {detail}",
                    url=url,
                    status=status,
                    attempts=attempts,
                )
            delay = self._backoff(attempts - 1) if wait is None else wait
            self._sleep(min(delay, MAX_RETRY_WAIT_S))

    def _error_detail(self, exc: urllib.error.HTTPError) -> str:
        """The server's error message (OpenAI-style ``{"error": {"message"}}``), shortened."""
        try:
            raw = exc.read()
        except (OSError, http.client.HTTPException):
            raw = b""
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
            err = parsed.get("error") if isinstance(parsed, dict) else None
            if isinstance(err, dict) and err.get("message"):
                text = str(err["message"])
            elif isinstance(err, str):
                text = err
        except ValueError:
            pass
        text = " ".join(text.split())[:300] or exc.reason or "no details"
        return self._redact(str(text))


__all__ = ["API_KEY_ENV", "EndpointError", "OpenAIBackend", "TokenBucket"]
