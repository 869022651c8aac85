"""A small OpenAI-compatible HTTP server over a transformers model, bounded so that it keeps
serving.

It lets anything that speaks the OpenAI chat API (including :class:`OpenAIBackend` and other
tools) use a SpecLab model — a base checkpoint with its stages' LoRA adapters merged — on a
machine without vLLM. Standard library only (``http.server``); one model, so generation is
serialised while requests are read, validated and tokenized on their own threads.

Endpoints: ``GET /health`` (with the queue's state), ``GET /v1/models``,
``POST /v1/chat/completions`` (non-streaming, ``n=1``). Errors are OpenAI-style:
``{"error": {"message", "type", "param", "code"}}``, and every malformed request gets a 4xx.

No single request can stall it (see :class:`ServerLimits` and the README's Limits section): the
body size, the prompt's characters and tokens (counted before generation), ``max_tokens``
(the model's context), the time to upload a request and to generate a reply, the number of
requests waiting for the model (beyond it: ``503`` with ``Retry-After``), the connections
served at once and the JSON nesting depth are all bounded, and the listen backlog is sized
for the concurrency.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from engine.backends import server_requests as reading
from engine.backends.base import GenerationParams, Message, cut_at_stop
from engine.backends.server_limits import ServerLimits, add_limit_flags, limits_from_args, shown
from engine.backends.server_requests import ClientGone, RequestError
from engine.errors import InputError

log = logging.getLogger(__name__)

_INT64 = (-(2**63), 2**63 - 1)
# Below this a temperature divides logits into inf/NaN; such requests are answered greedily.
_MIN_TEMPERATURE = 1e-5
# An error answered before the body was read drains what the client still sends (bounded),
# so that it reads our answer instead of a connection reset.
_LINGER_S = 2.0
_LINGER_BYTES = 64 * 1024 * 1024


# -- the model and its queue -----------------------------------------------------------------


class _GenerationQueue:
    """One generation at a time; at most ``max_waiting`` requests wait for their turn.

    A request that finds the queue full, or that waits longer than ``wait_timeout_s``, is
    refused with 503 and a ``Retry-After`` estimated from recent generation times.
    """

    def __init__(self, max_waiting: int, wait_timeout_s: float) -> None:
        self.max_waiting = max_waiting
        self.wait_timeout_s = wait_timeout_s
        self._cond = threading.Condition()
        self._generating = False
        self._waiting = 0
        self._mean_s = 1.0  # running mean of generation times, for Retry-After

    def status(self) -> dict[str, int]:
        with self._cond:
            return {"generating": int(self._generating), "waiting": self._waiting}

    def full(self) -> bool:
        with self._cond:
            return self._generating and self._waiting >= self.max_waiting

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the queue's length x recent generation time."""
        with self._cond:
            return self._retry_after()

    def _retry_after(self) -> int:  # with self._cond held
        return max(1, min(60, math.ceil(self._mean_s * (self._waiting + 1))))

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the model for the body of the ``with``, after waiting (bounded) for it."""
        with self._cond:
            if self._generating and self._waiting >= self.max_waiting:
                raise RequestError(
                    503,
                    f"the server is busy ({self._waiting} requests already wait for the "
                    "model); retry later",
                    kind="server_error",
                    code="queue_full",
                    retry_after=self._retry_after(),
                )
            self._waiting += 1
            deadline = time.monotonic() + self.wait_timeout_s
            try:
                while self._generating:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise RequestError(
                            503,
                            f"the model stayed busy for {self.wait_timeout_s:g} s; retry later",
                            kind="server_error",
                            code="queue_timeout",
                            retry_after=self._retry_after(),
                        )
                    self._cond.wait(left)
            finally:
                self._waiting -= 1
            self._generating = True
        started = time.monotonic()
        try:
            yield
        finally:
            with self._cond:
                self._generating = False
                self._mean_s = 0.7 * self._mean_s + 0.3 * (time.monotonic() - started)
                self._cond.notify_all()


@dataclass(frozen=True)
class _Prepared:
    """A validated request, tokenized, ready for its turn on the model."""

    ids: list[int]
    params: GenerationParams
    messages: list[Message]


def _context_of(model: Any) -> int:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 1:
            return value
    return 2048


class ChatService:
    """The model behind the server: validates a request body and answers it.

    Args:
        model_path: the base checkpoint.
        adapters: LoRA adapters merged in, in order (see :func:`engine.train.sft.load_model`).
        model_name: the name ``/v1/models`` lists and requests must use.
        limits: what one request may ask for.
    """

    def __init__(
        self,
        model_path: str,
        adapters: Sequence[Path],
        model_name: str,
        limits: ServerLimits | None = None,
    ) -> None:
        import torch

        from engine.train.sft import load_model

        self.model_name = model_name
        self.limits = limits or ServerLimits()
        self.created = int(time.time())
        # Loaded at start-up so that a bad model fails here, not on the first request.
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model, self.tokenizer = load_model(model_path, adapters, dtype=dtype)
        self.model.to(self.device)
        self.model.eval()
        # The Rust tokenizer is not guaranteed safe to share between threads.
        self._tok_lock = threading.Lock()
        self.context_tokens = self.limits.context_tokens or _context_of(self.model)
        self.max_prompt_tokens = min(self.limits.max_prompt_tokens, self.context_tokens - 1)
        longest = max((len(t) for t in self.tokenizer.get_vocab()), default=1)
        self.max_prompt_chars = self.limits.max_prompt_chars or self.max_prompt_tokens * longest
        eos = self.model.generation_config.eos_token_id
        eos_ids = [*eos] if isinstance(eos, list) else [eos]
        self._eos = {i for i in [*eos_ids, self.tokenizer.eos_token_id] if isinstance(i, int)}
        self.queue = _GenerationQueue(self.limits.max_queue, self.limits.queue_timeout_s)

    def limit_lines(self) -> list[str]:
        """The limits in force, one line each, as ``serve-model`` prints them at start."""
        effective = {
            "max_prompt_tokens": self.max_prompt_tokens,
            "max_prompt_chars": self.max_prompt_chars,
            "context_tokens": self.context_tokens,
        }
        lines = []
        for f in dataclasses.fields(ServerLimits):
            value = effective.get(f.name, getattr(self.limits, f.name))
            flag = "--" + f.name.replace("_", "-")
            lines.append(f"  {flag:<24} {value!s:<10} {f.metadata['help']}")
        return lines

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.model_name,
                    "object": "model",
                    "created": self.created,
                    "owned_by": "speclab",
                }
            ],
        }

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self.model_name, **self.queue.status()}

    def prepare(self, body: dict[str, Any]) -> _Prepared:
        """Validate ``body`` and tokenize its prompt; :class:`RequestError` if refused.

        Runs on the request's own thread, never waiting for the model: an oversized prompt is
        refused by its character count, unread, or by its token count, before generation.
        """
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise RequestError(400, "'model' must be a string", param="model")
        if model is not None and model != self.model_name:
            raise RequestError(
                404,
                f"the model {shown(model)} does not exist here; this server serves "
                f"{self.model_name!r}",
                param="model",
                code="model_not_found",
            )
        if reading.integer(body, "n", 1, 2**31 - 1) not in (None, 1):
            raise RequestError(400, "only n=1 is supported", param="n")
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise RequestError(400, "'stream' must be true or false", param="stream")
        if stream:
            raise RequestError(400, "streaming is not supported", param="stream")
        # max_tokens wins over its newer name max_completion_tokens; both are capped by context.
        asked_field = (
            "max_tokens" if body.get("max_tokens") is not None else "max_completion_tokens"
        )
        asked = reading.integer(body, asked_field, 1, self.context_tokens)
        temperature = reading.number(body, "temperature", 1.0, 0.0, 2.0)  # OpenAI's default: 1
        top_p = reading.number(body, "top_p", 1.0, 0.0, 1.0)
        seed = reading.integer(body, "seed", *_INT64)
        stop = reading.stop(body)
        messages = reading.messages(body, self.max_prompt_tokens)

        chars = sum(len(m["content"]) for m in messages)
        if chars > self.max_prompt_chars:
            raise RequestError(
                400,
                f"the messages hold {chars} characters; at most {self.max_prompt_chars} can "
                f"fit the prompt limit of {self.max_prompt_tokens} tokens",
                param="messages",
                code="context_length_exceeded",
            )
        with self._tok_lock:
            try:
                prompt = self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            except Exception as exc:  # the template itself refuses these messages
                raise RequestError(
                    400,
                    f"the model's chat template refuses these messages: {exc}",
                    param="messages",
                ) from None
            ids = list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if len(ids) > self.max_prompt_tokens:
            raise RequestError(
                400,
                f"the prompt is {len(ids)} tokens; this server accepts at most "
                f"{self.max_prompt_tokens}",
                param="messages",
                code="context_length_exceeded",
            )
        room = self.context_tokens - len(ids)
        if asked is not None and asked > room:
            raise RequestError(
                400,
                f"'{asked_field}' is {asked} but only {room} tokens are left in the model's "
                f"context of {self.context_tokens} after the {len(ids)}-token prompt",
                param=asked_field,
                code="context_length_exceeded",
            )
        max_new = asked if asked is not None else min(GenerationParams().max_new_tokens, room)
        params = GenerationParams(
            max_new_tokens=max_new,
            temperature=0.0 if temperature < _MIN_TEMPERATURE else temperature,
            top_p=top_p,
            seed=seed or 0,
            stop=stop,
            batch_size=1,
        )
        return _Prepared(ids=ids, params=params, messages=messages)

    def _generate(self, ids: list[int], params: GenerationParams) -> tuple[list[int], bool]:
        """New token ids and whether generation stopped at an end-of-sequence token."""
        import torch

        input_ids = torch.tensor([ids], device=self.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "max_time": self.limits.generation_timeout_s,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if params.temperature > 0:
            torch.manual_seed(params.seed)
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(do_sample=False)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **kwargs
            )
        new = [int(t) for t in out[0, len(ids) :].tolist()]
        return new, bool(new) and new[-1] in self._eos

    def complete(
        self, body: dict[str, Any], abandoned: Callable[[], bool] = lambda: False
    ) -> dict[str, Any]:
        """The ``chat.completion`` object answering ``body``; :class:`RequestError` if
        refused. ``abandoned`` is asked once the model is free: a request whose client has
        gone is dropped instead of generated."""
        req = self.prepare(body)
        with self.queue.turn():
            if abandoned():
                raise ClientGone
            started = time.monotonic()
            new, hit_eos = self._generate(req.ids, req.params)
            took = time.monotonic() - started
        with self._tok_lock:
            text = self.tokenizer.decode(new, skip_special_tokens=True)
        reply = cut_at_stop(text, req.params.stop)
        stopped = hit_eos or len(reply) < len(text)
        if not stopped and len(new) < req.params.max_new_tokens:
            log.warning(
                "generation stopped by the %g s limit after %d tokens (%.1f s)",
                self.limits.generation_timeout_s,
                len(new),
                took,
            )
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.strip()},
                    # "length" also when the time limit cut the reply: it was truncated.
                    "finish_reason": "stop" if stopped else "length",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": len(req.ids),
                "completion_tokens": len(new),
                "total_tokens": len(req.ids) + len(new),
            },
        }


# -- HTTP ----------------------------------------------------------------------------------


class _DeadlineReader:
    """A request's input stream with one deadline for its request line, headers and body.

    A per-``recv`` socket timeout alone lets a client trickle one byte at a time forever;
    here every read waits at most until the deadline, so the whole request must arrive in
    time. Only what ``http.server`` and the handler use: ``readline``, ``read``, ``close``.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self.deadline = deadline
        self.expired = False
        self._buf = bytearray()

    def _fill(self) -> bool:
        """Receive more bytes; False at end of stream, TimeoutError past the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.expired = True
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(left)
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            self.expired = True
            raise
        self._buf += chunk
        return bool(chunk)

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def readline(self, limit: int = -1) -> bytes:
        scanned = 0
        while True:
            i = self._buf.find(b"\n", scanned)
            if i >= 0 and (limit < 0 or i < limit):
                return self._take(i + 1)
            if 0 <= limit <= len(self._buf):
                return self._take(limit)
            scanned = len(self._buf)
            if not self._fill():
                return self._take(len(self._buf))

    def read(self, n: int) -> bytes:
        while len(self._buf) < n and self._fill():
            pass
        return self._take(min(n, len(self._buf)))

    def close(self) -> None:
        self._buf.clear()


class ModelServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` that knows its :class:`ChatService` and counts its
    connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: ChatService) -> None:
        self.service = service
        self.limits = service.limits
        self.request_queue_size = self.limits.backlog
        self._active = 0
        self._active_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def active_connections(self) -> int:
        with self._active_lock:
            return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._active_lock:
            self._active += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self._active_lock:
                self._active -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished mid-answer is routine; anything else is logged, not printed.
        log.warning("error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    rfile: Any
    server_version = "speclab-model-server"

    def setup(self) -> None:
        super().setup()
        original = self.rfile
        self.rfile = _DeadlineReader(
            self.connection, time.monotonic() + self.server.limits.request_timeout_s
        )
        original.close()
        self._replied = False
        self._body_read = False
        # Defaults for an error answered before the request line was parsed.
        self.requestline, self.command, self.request_version = "", "", "HTTP/1.0"

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if self.rfile.expired and not self._replied:  # the line or headers came too slowly
            self._reply_error(self._timeout_error())

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _timeout_error(self) -> RequestError:
        return RequestError(
            408,
            f"the request did not arrive within {self.server.limits.request_timeout_s:g} s",
            code="request_timeout",
        )

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        self._replied = True
        self.connection.settimeout(self.server.limits.request_timeout_s)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _reply_error(self, exc: RequestError) -> None:
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        unread = self.command == "POST" and not self._body_read
        if unread or exc.status == 408:
            self.close_connection = True
            headers["Connection"] = "close"
        try:
            self._send(exc.status, exc.body(), headers)
            if unread and not self.rfile.expired:
                self._linger()
        except OSError:  # the client is gone: nobody to tell
            self.close_connection = True

    def _linger(self) -> None:
        """Drain (bounded) what the client still sends, so it reads our answer, not a reset."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + _LINGER_S
        drained = 0
        while drained < _LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
            self.connection.settimeout(left)
            try:
                chunk = self.connection.recv(65536)
            except TimeoutError:
                return
            if not chunk:
                return
            drained += len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, huge headers…) as OpenAI-style JSON."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # we never answer without a status line
            self.request_version = "HTTP/1.0"
        self._reply_error(RequestError(code, message or HTTPStatus(code).phrase))

    def _client_gone(self) -> bool:
        """Whether the client closed the connection (checked without blocking)."""
        try:
            self.connection.settimeout(0)
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, self.server.service.health())
        elif path == "/v1/models":
            self._send(200, self.server.service.models())
        elif path == "/v1/chat/completions":
            self._reply_error(RequestError(405, "use POST for /v1/chat/completions"))
        else:
            self._reply_error(
                RequestError(404, f"no such endpoint: GET {shown(path)}", code="not_found")
            )

    def _body(self) -> dict[str, Any]:
        limits = self.server.limits
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(411, "send the body with a Content-Length, not chunked")
        raw_length = self.headers.get("Content-Length") or ""
        if not (raw_length.isascii() and raw_length.strip().isdigit()) or len(raw_length) > 20:
            raise RequestError(411, "a JSON body with a Content-Length header is required")
        length = int(raw_length)
        if length > limits.max_body_bytes:
            raise RequestError(
                413,
                f"the body is {length} bytes; this server accepts at most {limits.max_body_bytes}",
                code="body_too_large",
            )
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise self._timeout_error() from None
        if len(raw) < length:
            raise RequestError(400, f"the body ended after {len(raw)} of {length} bytes")
        self._body_read = True
        return reading.parse_body(raw, limits.max_json_depth)

    def _check_capacity(self) -> None:
        """Refuse before reading the body when the server cannot take more work."""
        service, limits = self.server.service, self.server.limits
        busy = None
        if self.server.active_connections > limits.max_connections:
            busy = f"the server has more than {limits.max_connections} connections open"
        elif service.queue.full():
            busy = f"the server is busy ({limits.max_queue} requests already wait)"
        if busy is not None:
            raise RequestError(
                503,
                f"{busy}; retry later",
                kind="server_error",
                code="server_busy",
                retry_after=service.queue.retry_after(),
            )

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if path != "/v1/chat/completions":
                raise RequestError(404, f"no such endpoint: POST {shown(path)}", code="not_found")
            self._check_capacity()
            answer = self.server.service.complete(self._body(), self._client_gone)
        except RequestError as exc:
            self._reply_error(exc)
            return
        except ClientGone:
            log.info("%s left before its turn; not generated", self.address_string())
            self.close_connection = True
            return
        except Exception as exc:  # a generation failure must answer 500, not drop the socket
            log.exception("generation failed")
            self._reply_error(
                RequestError(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    f"generation failed: {type(exc).__name__}: {exc}",
                    kind="server_error",
                )
            )
            return
        try:
            self._send(200, answer)
        except OSError:
            log.info("%s left before reading its answer", self.address_string())
            self.close_connection = True


def make_server(
    model_path: str,
    adapters: Sequence[Path] = (),
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_name: str | None = None,
    limits: ServerLimits | None = None,
) -> tuple[ModelServer, Callable[[], None]]:
    """Load the model, bind ``host:port`` (0 = any free port) and serve on a background thread.

    Returns:
        The server (its ``server_port`` is the bound port) and a ``shutdown()`` function that
        stops serving, closes the socket and joins the thread; it may be called from any
        thread except a request handler, and more than once.
    """
    service = ChatService(model_path, adapters, model_name or Path(model_path).name, limits)
    server = ModelServer((host, port), service)
    thread = threading.Thread(
        target=server.serve_forever, name=f"model-server-{server.server_port}", daemon=True
    )
    thread.start()
    lock = threading.Lock()
    stopped = False

    def shutdown() -> None:
        nonlocal stopped
        with lock:
            if stopped:
                return
            stopped = True
        server.shutdown()
        server.server_close()
        thread.join()

    return server, shutdown


def serve(
    model_path: str,
    adapters: Sequence[Path] = (),
    host: str = "127.0.0.1",
    port: int = 8000,
    model_name: str | None = None,
    *,
    limits: ServerLimits | None = None,
    log_line: Callable[[str], None] = print,
) -> None:
    """Serve the model until Ctrl-C, printing the limits in force at start."""
    server, shutdown = make_server(
        model_path, adapters, host=host, port=port, model_name=model_name, limits=limits
    )
    name = server.service.model_name
    log_line(
        f"serving {name!r} at http://{host}:{server.server_port}/v1 "
        "(OpenAI chat completions; Ctrl-C stops)"
    )
    log_line("limits (change them with the serve-model flags of the same names):")
    for line in server.service.limit_lines():
        log_line(line)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        log_line("stopping")
    finally:
        shutdown()


def cli_serve_model(
    model: str,
    adapter: str | None,
    host: str,
    port: int,
    limits: ServerLimits | None = None,
) -> int:
    """``speclab serve-model MODEL [--adapter A] [--host H] [--port P] [limit flags]``: serve
    until Ctrl-C.

    ``model`` is any name :func:`engine.train.registry.resolve` accepts; ``adapter`` is a
    LoRA adapter folder (merged before serving). The served model name is ``model`` as given.

    Raises:
        ConfigError: a built-in model that ``speclab init`` has not prepared yet.
        InputError: an unknown model, or an adapter path that is not an adapter folder.
    """
    from engine.config import Settings
    from engine.errors import ConfigError
    from engine.train.registry import is_prepared, resolve

    settings = Settings.from_env()
    ref = resolve(model, settings)
    if ref.source == "builtin" and not is_prepared(settings, ref.id):
        raise ConfigError(
            f"the built-in model {ref.id} is not prepared yet in {ref.path}; "
            "run `speclab init` first"
        )
    model_path = str(ref.path) if ref.path is not None else ref.id
    adapters: list[Path] = []
    if adapter:
        folder = Path(adapter).expanduser()
        if not (folder / "adapter_config.json").is_file():
            raise InputError(
                f"{adapter!r} is not a LoRA adapter folder (no adapter_config.json); pass the "
                "folder a training stage saved",
                field="adapter",
            )
        adapters.append(folder.resolve())
    serve(model_path, adapters, host=host, port=port, model_name=model.strip(), limits=limits)
    return 0


__all__ = [
    "ChatService",
    "ModelServer",
    "ServerLimits",
    "add_limit_flags",
    "cli_serve_model",
    "limits_from_args",
    "make_server",
    "serve",
]
