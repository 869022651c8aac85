"""A small OpenAI-compatible HTTP server over the transformers backend.

It lets anything that speaks the OpenAI chat API (including :class:`OpenAIBackend` and other
tools) use a SpecLab model — a base checkpoint with its stages' LoRA adapters merged — on a
machine without vLLM. Standard library only (``http.server``); one model, so generation is
serialized with a lock while requests are parsed and answered on their own threads.

Endpoints: ``GET /health``, ``GET /v1/models``, ``POST /v1/chat/completions`` (non-streaming,
``n=1``). Errors are OpenAI-style: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from engine.backends.base import GenerationParams, Message

log = logging.getLogger(__name__)

#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024 * 1024
_ROLES = ("system", "user", "assistant")


class _RequestError(Exception):
    """A request the server refuses; becomes an OpenAI-style error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise _RequestError(400, f"'{key}' must be a number from {lo} to {hi}", param=key)
    return float(value)


def _integer(body: dict[str, Any], key: str, default: int, lo: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise _RequestError(400, f"'{key}' must be an integer of at least {lo}", param=key)
    return value


def _content(value: Any, i: int) -> str:
    """A message's content: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in value
    ):
        return "".join(p["text"] for p in value)
    raise _RequestError(
        400,
        f"messages[{i}].content must be a string or a list of text parts",
        param=f"messages[{i}].content",
    )


def _messages(body: dict[str, Any]) -> list[Message]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _RequestError(
            400, "'messages' is required: a non-empty list of messages", param="messages"
        )
    out: list[Message] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise _RequestError(
                400,
                f"messages[{i}] must be an object with a 'role' of {', '.join(_ROLES)}",
                param=f"messages[{i}].role",
            )
        out.append({"role": str(m["role"]), "content": _content(m.get("content"), i)})
    return out


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise _RequestError(400, "'stop' must be a string or a list of strings", param="stop")


class ChatService:
    """The model behind the server: validates a request body and answers it.

    Args:
        model_path: the base checkpoint.
        adapters: LoRA adapters merged in, in order (see :func:`engine.train.sft.load_model`).
        model_name: the name ``/v1/models`` lists and requests must use.
    """

    def __init__(self, model_path: str, adapters: Sequence[Path], model_name: str) -> None:
        from transformers import AutoTokenizer

        from engine.backends.transformers_backend import TransformersBackend

        self.model_name = model_name
        self.created = int(time.time())
        self.backend = TransformersBackend(model_path, adapters)
        self.backend.load()  # fail at start-up, not on the first request
        # A second tokenizer for the usage counts keeps the backend's internals private.
        self.tokenizer: Any = AutoTokenizer.from_pretrained(model_path)
        self._lock = threading.Lock()

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

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """The ``chat.completion`` object answering ``body``; :class:`_RequestError` if bad."""
        messages = _messages(body)
        model = body.get("model")
        if model is not None and model != self.model_name:
            raise _RequestError(
                404,
                f"the model {model!r} does not exist here; this server serves {self.model_name!r}",
                param="model",
                code="model_not_found",
            )
        if _integer(body, "n", 1, 1) != 1:
            raise _RequestError(400, "only n=1 is supported", param="n")
        if body.get("stream"):
            raise _RequestError(400, "streaming is not supported", param="stream")
        default_tokens = GenerationParams().max_new_tokens
        max_tokens = _integer(
            body, "max_tokens", _integer(body, "max_completion_tokens", default_tokens, 1), 1
        )
        params = GenerationParams(
            max_new_tokens=max_tokens,
            # OpenAI's defaults: sampling at temperature 1 unless asked otherwise.
            temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
            top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
            seed=_integer(body, "seed", 0, -(2**63)),
            stop=_stop(body),
            batch_size=1,
        )
        with self._lock:
            reply = self.backend.chat([messages], params)[0]
        prompt = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        prompt_tokens = self._count(prompt)
        # Recounted from the returned text (cheap, may differ by a token from what was sampled).
        completion_tokens = self._count(reply)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": "length" if completion_tokens >= max_tokens else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class ModelServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` that knows its :class:`ChatService`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: ChatService) -> None:
        self.service = service
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    server_version = "speclab-model-server"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: _RequestError) -> None:
        self._send(exc.status, exc.body())

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, {"status": "ok", "model": self.server.service.model_name})
        elif path == "/v1/models":
            self._send(200, self.server.service.models())
        elif path == "/v1/chat/completions":
            self._error(_RequestError(405, "use POST for /v1/chat/completions"))
        else:
            self._error(_RequestError(404, f"no such endpoint: GET {path}", code="not_found"))

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise _RequestError(
                400, "a JSON body with a Content-Length header is required"
            ) from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise _RequestError(413, f"the body must be at most {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _RequestError(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _RequestError(400, "the body must be a JSON object")
        return body

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._error(_RequestError(404, f"no such endpoint: POST {path}", code="not_found"))
            return
        try:
            self._send(200, self.server.service.complete(self._body()))
        except _RequestError as exc:
            self._error(exc)
        except Exception as exc:  # a generation failure must answer 500, not drop the socket
            log.exception("generation failed")
            self._error(
                _RequestError(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    f"generation failed: {type(exc).__name__}: {exc}",
                    kind="server_error",
                )
            )


def make_server(
    model_path: str,
    adapters: Sequence[Path] = (),
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_name: str | None = None,
) -> tuple[ModelServer, Callable[[], None]]:
    """Load the model, bind ``host:port`` (0 = any free port) and serve on a background thread.

    Returns:
        The server (its ``server_port`` is the bound port) and a ``shutdown()`` function that
        stops serving, closes the socket and joins the thread; it may be called from any
        thread except a request handler, and more than once.
    """
    service = ChatService(model_path, adapters, model_name or Path(model_path).name)
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
    log_line: Callable[[str], None] = print,
) -> None:
    """Serve the model until Ctrl-C."""
    server, shutdown = make_server(
        model_path, adapters, host=host, port=port, model_name=model_name
    )
    name = server.service.model_name
    log_line(
        f"serving {name!r} at http://{host}:{server.server_port}/v1 "
        "(OpenAI chat completions; Ctrl-C stops)"
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        log_line("stopping")
    finally:
        shutdown()


def cli_serve_model(model: str, adapter: str | None, host: str, port: int) -> int:
    """``speclab serve-model MODEL [--adapter A] [--host H] [--port P]``: serve until Ctrl-C.

    ``model`` is any name :func:`engine.train.registry.resolve` accepts; ``adapter`` is a
    LoRA adapter folder (merged before serving). The served model name is ``model`` as given.

    Raises:
        ConfigError: a built-in model that ``speclab init`` has not prepared yet.
        InputError: an unknown model, or an adapter path that is not an adapter folder.
    """
    from engine.config import Settings
    from engine.errors import ConfigError, InputError
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
    serve(model_path, adapters, host=host, port=port, model_name=model.strip())
    return 0


__all__ = [
    "MAX_BODY_BYTES",
    "ChatService",
    "ModelServer",
    "cli_serve_model",
    "make_server",
    "serve",
]
