"""Evaluation generation throughput: the batched transformers backend against a
one-prompt-at-a-time ``generate`` loop, same prompts, model and settings, one invocation.

    .venv/bin/python bench/generate.py [--model builtin:smollm2-135m-instruct] [--prompts 16]

Prints samples/s for both and, last, ``ratio=<batched/loop>`` (target >= 4 on CPU). The prompts
are the spec-QA questions (short chat prompts, greedy decoding, a fixed number of new tokens).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.backends.base import GenerationParams  # noqa: E402
from engine.backends.transformers_backend import TransformersBackend  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.evals import spec_qa  # noqa: E402
from engine.train import registry  # noqa: E402


def loop(backend: TransformersBackend, convs: list[list[dict[str, str]]], new: int) -> list[str]:
    """What a hand-written eval does: tokenize one prompt, generate, decode, repeat."""
    import torch

    tok, model = backend._tokenizer, backend._model
    out = []
    for conv in convs:
        text = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
        enc = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            ids = model.generate(
                **enc, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                pad_token_id=tok.pad_token_id,
            )  # fmt: skip
        out.append(tok.decode(ids[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--model", default="builtin:smollm2-135m-instruct")
    p.add_argument("--prompts", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--reps", type=int, default=2)
    args = p.parse_args()
    ref = registry.resolve(args.model, Settings.from_env())
    backend = TransformersBackend(str(ref.path or ref.id))
    backend.load()
    items = spec_qa.load_builtin()[: args.prompts]
    convs = [spec_qa.conversation(i) for i in items]
    # Every reply gets exactly --new-tokens tokens on both sides, so the work is identical.
    backend._model.generation_config.min_new_tokens = args.new_tokens
    params = GenerationParams(max_new_tokens=args.new_tokens, batch_size=len(convs))
    backend.chat(convs[:2], params)  # warm-up
    loop_s, batch_s = [], []
    for rep in range(args.reps):
        t = time.perf_counter()
        loop(backend, convs, args.new_tokens)
        loop_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        backend.chat(convs, params)
        batch_s.append(time.perf_counter() - t)
        print(f"rep {rep}: loop {loop_s[-1]:.1f}s, batched {batch_s[-1]:.1f}s", flush=True)
    n = len(convs)
    loop_rate, batch_rate = n / min(loop_s), n / min(batch_s)
    print(f"loop_samples_per_s={loop_rate:.3f}")
    print(f"batched_samples_per_s={batch_rate:.3f}")
    print(f"ratio={batch_rate / loop_rate:.2f}")


if __name__ == "__main__":
    main()
