"""Generation backends: transformers batching, the OpenAI client, our model server, vLLM.

The OpenAI client is tested against real HTTP servers on loopback ports: our own model server
over a tiny random Llama, and small hand-written stdlib servers that misbehave on purpose.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.backends.base import GenerationParams, Message
from engine.backends.openai_backend import OpenAIBackend, TokenBucket
from engine.backends.select import describe, make_backend
from engine.backends.transformers_backend import TransformersBackend
from engine.backends.vllm_backend import MERGED_MARKER, prepare_base, vllm_available
from engine.errors import ConfigError, EndpointError, InputError, SpecLabError

REPO = Path(__file__).resolve().parent.parent
VLLM_SKIP = "vLLM needs a CUDA GPU and the vllm package (not installable on CPU machines)"
GREEDY = GenerationParams(max_new_tokens=12, temperature=0.0)

# Prompts of clearly different lengths, so that batching has to left-pad.
CONVERSATIONS: list[list[Message]] = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Name three rivers in Europe and say which one is longest."}],
    [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "What colour is the sky on a clear day?"},
    ],
    [
        {"role": "user", "content": "Count to three."},
        {"role": "assistant", "content": "One, two, three."},
        {"role": "user", "content": "Now backwards, please, and slowly, with a pause."},
    ],
    [{"role": "user", "content": "ok"}],
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def chatty_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_model_dir`` with an untied, large random output layer.

    With tied embeddings the random tiny model greedily repeats a newline, which strips to
    "": comparing empty replies would prove nothing. This one says varied gibberish.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("chatty-llama")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.config.tie_word_embeddings = False
    torch.manual_seed(0)
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight) * 0.5)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


# -- a scripted OpenAI-ish server: answers what a function says, records every request ----

Reply = tuple[int, dict[str, str], dict[str, Any]]


class ScriptedServer:
    """A stdlib HTTP server whose answers come from ``respond(n, body)`` (n = request count)."""

    def __init__(self, respond: Callable[[int, dict[str, Any]], Reply]) -> None:
        self.respond = respond
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, body: dict[str, Any]) -> None:
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers), body))
                    n = len(outer.requests)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    status, headers, payload = outer.respond(n, body)
                finally:
                    with outer.lock:
                        outer.in_flight -= 1
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer({})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(json.loads(self.rfile.read(length) or b"{}"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def _completion(content: str) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int, dict[str, Any]], Reply]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(respond: Callable[[int, dict[str, Any]], Reply]) -> ScriptedServer:
        servers.append(ScriptedServer(respond))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


# -- transformers batching ----------------------------------------------------------------


def test_batched_generation_equals_one_at_a_time(chatty_model_dir: Path) -> None:
    # Guards left padding: a prompt's greedy reply must not depend on its batch neighbours.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(chatty_model_dir)
    lengths = {
        len(tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True))
        for c in CONVERSATIONS
    }
    assert len(lengths) > 1, "the prompts must differ in length to exercise padding"

    backend = TransformersBackend(str(chatty_model_dir))
    batched = backend.chat(CONVERSATIONS, GenerationParams(max_new_tokens=12, batch_size=8))
    single = backend.chat(CONVERSATIONS, GenerationParams(max_new_tokens=12, batch_size=1))
    assert batched == single
    assert len(batched) == len(CONVERSATIONS) and all(batched)
    assert len(set(batched)) > 1  # replies depend on the prompt


# -- our model server, through the OpenAI backend -----------------------------------------


@pytest.fixture(scope="module")
def model_server(chatty_model_dir: Path) -> Iterator[str]:
    from engine.backends.server import make_server

    server, shutdown = make_server(str(chatty_model_dir), port=0, model_name="tiny")
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        shutdown()
        shutdown()  # a second call must be harmless


def _post(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_server_greedy_answers_equal_transformers_backend(
    model_server: str, chatty_model_dir: Path
) -> None:
    # Guards the server path end to end: same model, same prompts, same greedy replies.

    expected = TransformersBackend(str(chatty_model_dir)).chat(CONVERSATIONS, GREEDY)
    client = OpenAIBackend(model_server, "tiny", concurrency=3)  # a bare host gets /v1
    assert client.chat(CONVERSATIONS, GREEDY) == expected
    assert all(expected)


def test_server_lists_model_and_answers_health(model_server: str) -> None:
    # Guards discovery: /v1/models names the served model, /health answers.
    assert OpenAIBackend(model_server + "/v1", "tiny").list_models() == ["tiny"]
    with urllib.request.urlopen(model_server + "/health", timeout=10) as r:
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"


def test_server_response_has_usage_and_finish_reason(model_server: str) -> None:
    # Guards the response shape that OpenAI clients read: choices, finish_reason, usage.
    body = {"model": "tiny", "messages": CONVERSATIONS[1], "max_tokens": 4, "temperature": 0}
    status, data = _post(model_server + "/v1/chat/completions", json.dumps(body).encode())
    assert status == 200, data
    choice = data["choices"][0]
    assert data["object"] == "chat.completion" and data["model"] == "tiny"
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    usage = data["usage"]
    assert usage["prompt_tokens"] > 10
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.parametrize(
    ("payload", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"model": "tiny"}).encode(), 400, "messages"),
        (json.dumps({"messages": [{"role": "wizard", "content": "x"}]}).encode(), 400, None),
        (json.dumps({"messages": CONVERSATIONS[0], "n": 2}).encode(), 400, "n"),
        (json.dumps({"messages": CONVERSATIONS[0], "temperature": "hot"}).encode(), 400, None),
        (json.dumps({"model": "gpt-9", "messages": CONVERSATIONS[0]}).encode(), 404, "model"),
    ],
)
def test_server_rejects_bad_requests_openai_style(
    model_server: str, payload: bytes, status: int, param: str | None
) -> None:
    # Guards input validation: bad bodies get a 4xx with an OpenAI error object, not a crash.
    got, data = _post(model_server + "/v1/chat/completions", payload)
    assert got == status
    assert data["error"]["message"] and data["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert data["error"]["param"] == param


def test_cli_serve_model_merges_adapter_and_stops_on_ctrl_c(
    chatty_model_dir: Path, tmp_path: Path
) -> None:
    # Guards `speclab serve-model`: resolves the model, merges --adapter, exits 0 on Ctrl-C.
    adapter = _random_lora(chatty_model_dir, tmp_path / "adapter")
    port = _free_port()
    code = (
        "import sys; from engine.backends.server import cli_serve_model; "
        f"sys.exit(cli_serve_model({str(chatty_model_dir)!r}, {str(adapter)!r}, "
        f"'127.0.0.1', {port}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SPECLAB_HOME": str(tmp_path / "home")},
    )
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                models = OpenAIBackend(url, "m", max_retries=0, timeout=2).list_models()
                break
            except EndpointError:
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "the model server never answered"
                time.sleep(0.2)
        assert models == [str(chatty_model_dir)]
        client = OpenAIBackend(url, models[0])
        assert client.chat(CONVERSATIONS[:2], GREEDY) == TransformersBackend(
            str(chatty_model_dir), [adapter]
        ).chat(CONVERSATIONS[:2], GREEDY)
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    assert "serving" in out and "stopping" in out
    # The limits in force are printed at start, each under its flag's name (issue 13).
    assert "--max-prompt-tokens" in out and "--generation-timeout-s" in out


# -- OpenAI backend: retries, errors, order, rate limiting --------------------------------


def test_retries_429_with_retry_after_then_succeeds(scripted: Any) -> None:
    # Guards retry on rate limiting: two 429s (Retry-After: 0) then success = 3 requests.
    def respond(n: int, body: dict[str, Any]) -> Reply:
        if n <= 2:
            return 429, {"Retry-After": "0"}, {"error": {"message": "slow down"}}
        return 200, {}, _completion("fine")

    server = scripted(respond)
    clock = FakeClock()
    backend = OpenAIBackend(server.url, "m", sleep=clock.sleep)
    assert backend.chat([CONVERSATIONS[0]], GREEDY) == ["fine"]
    assert len(server.requests) == 3
    assert clock.sleeps == [0.0, 0.0]  # Retry-After, not the backoff, set the waits


def test_retry_after_header_sets_the_wait(scripted: Any) -> None:
    # Guards honouring Retry-After: a server asking for 7 s gets 7 s, not our backoff.
    def respond(n: int, body: dict[str, Any]) -> Reply:
        return (503, {"Retry-After": "7"}, {}) if n == 1 else (200, {}, _completion("ok"))

    server = scripted(respond)
    clock = FakeClock()
    assert OpenAIBackend(server.url, "m", sleep=clock.sleep).chat([CONVERSATIONS[0]], GREEDY)
    assert clock.sleeps == [7.0]


def test_persistent_500_raises_naming_status_and_url_not_key(scripted: Any) -> None:
    # Guards error reporting: after the retries, a SpecLabError names URL and status; no key.
    secret = "sk-test-secret-0123456789"

    def respond(n: int, body: dict[str, Any]) -> Reply:
        return 500, {}, {"error": {"message": f"internal error for Bearer {secret}"}}

    server = scripted(respond)
    clock = FakeClock()
    backend = OpenAIBackend(
        server.url, "m", api_key=secret, max_retries=3, backoff_base=0.5, sleep=clock.sleep
    )
    with pytest.raises(SpecLabError) as info:
        backend.chat([CONVERSATIONS[0]], GREEDY)
    message = str(info.value)
    assert "500" in message and f"{server.url}/chat/completions" in message
    assert secret not in message and secret not in repr(backend)
    assert isinstance(info.value, EndpointError) and info.value.status == 500
    assert len(server.requests) == 4
    assert all(h.get("Authorization") == f"Bearer {secret}" for _, h, _ in server.requests)
    # Exponential backoff with jitter: wait i lies in [base*2^i/2, base*2^i].
    assert len(clock.sleeps) == 3
    for i, s in enumerate(clock.sleeps):
        assert 0.5 * 2**i / 2 <= s <= 0.5 * 2**i


def test_client_errors_are_not_retried(scripted: Any) -> None:
    # Guards against retrying a request that can never succeed (a 400 stays a 400).
    server = scripted(lambda n, b: (400, {}, {"error": {"message": "bad max_tokens"}}))
    with pytest.raises(EndpointError, match="HTTP 400: bad max_tokens") as info:
        OpenAIBackend(server.url, "m", sleep=FakeClock().sleep).chat([CONVERSATIONS[0]], GREEDY)
    assert info.value.attempts == 1 and len(server.requests) == 1


def test_unreachable_endpoint_raises_after_retries() -> None:
    # Guards connection errors: retried, then a clear error naming the URL.
    url = f"http://127.0.0.1:{_free_port()}/v1"
    clock = FakeClock()
    backend = OpenAIBackend(url, "m", max_retries=2, timeout=5, sleep=clock.sleep)
    with pytest.raises(EndpointError, match="connection error after 3 attempts") as info:
        backend.chat([CONVERSATIONS[0]], GREEDY)
    assert url in str(info.value) and info.value.status is None
    assert len(clock.sleeps) == 2


def test_request_body_and_api_key_from_environment(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards what is sent: sampling settings in the body, the SpecLab key before OpenAI's.
    monkeypatch.setenv("SPECLAB_OPENAI_API_KEY", "sk-speclab")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    server = scripted(lambda n, b: (200, {}, _completion("a STOP b")))
    params = GenerationParams(max_new_tokens=9, temperature=0.7, top_p=0.9, seed=5, stop=("STOP",))
    assert OpenAIBackend(server.url, "m").chat([CONVERSATIONS[2]], params) == ["a"]
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-speclab"
    assert body == {
        "model": "m",
        "messages": CONVERSATIONS[2],
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 9,
        "seed": 5,
        "n": 1,
        "stop": ["STOP"],
    }


def test_results_keep_input_order_under_concurrency(scripted: Any) -> None:
    # Guards ordering: replies come back in input order even when later requests finish first.
    n = 8

    def respond(_: int, body: dict[str, Any]) -> Reply:
        i = int(body["messages"][-1]["content"])
        time.sleep(0.02 * (n - i))  # earlier prompts answer later
        return 200, {}, _completion(f"reply {i}")

    server = scripted(respond)
    convs = [[{"role": "user", "content": str(i)}] for i in range(n)]
    replies = OpenAIBackend(server.url, "m", concurrency=4).chat(convs, GREEDY)
    assert replies == [f"reply {i}" for i in range(n)]
    assert 2 <= server.max_in_flight <= 4


def test_token_bucket_spaces_requests() -> None:
    # Guards the rate limiter's arithmetic: 120/min = one slot every 0.5 s, reserved in turn.
    clock = FakeClock()
    bucket = TokenBucket(120, clock=clock, sleep=clock.sleep)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.5, 1.0]  # concurrent callers queue
    clock.now = 100.0  # long idle: the bucket refills to its burst of one
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.5, 0.5]
    assert clock.sleeps == [0.5, 0.5]


def test_backend_waits_for_rate_limiter(scripted: Any) -> None:
    # Guards the wiring: requests_per_minute actually spaces the backend's requests.
    server = scripted(lambda n, b: (200, {}, _completion("ok")))
    clock = FakeClock()
    backend = OpenAIBackend(
        server.url, "m", requests_per_minute=60, concurrency=1, clock=clock, sleep=clock.sleep
    )
    assert backend.chat([CONVERSATIONS[0]] * 3, GREEDY) == ["ok"] * 3
    assert clock.sleeps == [1.0, 1.0]


# -- backend selection and the vLLM merge path --------------------------------------------


def test_backend_modules_import_without_torch() -> None:
    # Guards start-up cost: the backend modules import no torch, transformers or vllm.
    code = (
        "import sys, engine.backends.select, engine.backends.openai_backend, "
        "engine.backends.server, engine.backends.vllm_backend;"
        "heavy = {'torch', 'transformers', 'vllm'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


@pytest.mark.skipif(vllm_available(), reason="checks the fallback on machines without vLLM")
def test_auto_falls_back_to_transformers_and_says_why(tiny_model_dir: Path) -> None:
    # Guards selection on CPU hosts: auto = transformers, vllm asked for = a clear ConfigError.

    backend = make_backend(model_path=str(tiny_model_dir))
    assert isinstance(backend, TransformersBackend) and backend.name == "transformers"
    assert describe().startswith("transformers (auto): vLLM not used because")
    with pytest.raises(ConfigError, match="vllm backend cannot run here"):
        make_backend("vllm", model_path=str(tiny_model_dir))


def test_make_backend_validates_kind_and_openai_url() -> None:
    # Guards the selector's input errors: unknown kind, openai without a URL.
    with pytest.raises(InputError, match="unknown generation backend"):
        make_backend("llamacpp", model_path="x")
    with pytest.raises(InputError, match="base URL"):
        make_backend("openai", model_path="x")
    backend = make_backend("openai", model_path="x", base_url="http://h:1/v1", model_name="m")
    assert isinstance(backend, OpenAIBackend) and backend.model == "m"


def _random_lora(base: Path, out: Path) -> Path:
    """A LoRA adapter with non-zero weights on the tiny model (peft's default B is zero)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out)
    return out


def test_prepare_base_merges_once_into_a_cached_folder(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Guards the vLLM base: earlier adapters merged exactly, cached by input hash, not redone.
    import torch

    from engine.train.sft import load_model

    adapter = _random_lora(tiny_model_dir, tmp_path / "adapter")
    cache = tmp_path / "merged"
    assert prepare_base(str(tiny_model_dir), [], cache) == str(tiny_model_dir)

    merged = Path(prepare_base(str(tiny_model_dir), [adapter], cache))
    assert merged.parent == cache and (merged / MERGED_MARKER).is_file()
    weights = merged / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert prepare_base(str(tiny_model_dir), [adapter], cache) == str(merged)
    assert weights.stat().st_mtime_ns == stamp  # served from the cache
    assert [p.name for p in cache.iterdir()] == [merged.name]  # no temporary leftovers

    ids = torch.tensor([[1, 2, 3, 4, 5]])
    expected, _ = load_model(str(tiny_model_dir), [adapter])
    plain, _ = load_model(str(tiny_model_dir), [])
    reloaded, _ = load_model(str(merged), [])
    with torch.no_grad():
        want = expected(ids).logits
        assert torch.allclose(reloaded(ids).logits, want, atol=1e-5)
        assert not torch.allclose(plain(ids).logits, want, atol=1e-3)


@pytest.mark.skipif(not vllm_available(), reason=VLLM_SKIP)
def test_vllm_greedy_matches_transformers(chatty_model_dir: Path) -> None:
    # Guards the vLLM path: chat template, sampling params, order (fp32 greedy = transformers).
    from engine.backends.vllm_backend import VLLMBackend

    expected = TransformersBackend(str(chatty_model_dir)).chat(CONVERSATIONS, GREEDY)
    backend = VLLMBackend(
        str(chatty_model_dir),
        gpu_memory_utilization=0.3,
        engine_kwargs={"dtype": "float32", "enforce_eager": True, "max_model_len": 512},
    )
    assert backend.chat(CONVERSATIONS, GREEDY) == expected


@pytest.mark.skipif(not vllm_available(), reason=VLLM_SKIP)
def test_vllm_serves_lora_adapter_unmerged(chatty_model_dir: Path, tmp_path: Path) -> None:
    # Guards LoRA serving: base + LoRARequest answers like transformers with the merged adapter.
    from engine.backends.vllm_backend import VLLMBackend

    base = str(chatty_model_dir)
    adapter = _random_lora(chatty_model_dir, tmp_path / "adapter")
    expected = TransformersBackend(base, [adapter]).chat(CONVERSATIONS, GREEDY)
    assert expected != TransformersBackend(base).chat(CONVERSATIONS, GREEDY)
    backend = make_backend("vllm", model_path=base, adapters=[adapter])
    assert isinstance(backend, VLLMBackend) and backend.adapter == adapter
    backend.gpu_memory_utilization = 0.3
    backend.engine_kwargs = {"dtype": "float32", "enforce_eager": True, "max_model_len": 512}
    assert backend.chat(CONVERSATIONS, GREEDY) == expected
