"""Batched generation with transformers (CPU or GPU), left-padded, chat-templated.

Heavy imports happen in :meth:`TransformersBackend.load`, never at module import.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.backends.base import GenerationParams, Message, cut_at_stop


class TransformersBackend:
    """A causal LM (plus merged adapters) answering chat conversations in batches."""

    name = "transformers"

    def __init__(self, model_path: str, adapters: Sequence[Path] = ()) -> None:
        self.model_path = model_path
        self.adapters = tuple(adapters)
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = "cpu"

    def load(self) -> None:
        if self._model is not None:
            return
        import torch

        from engine.train.sft import load_model

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        model, tokenizer = load_model(self.model_path, self.adapters, dtype=dtype)
        tokenizer.padding_side = "left"  # batched generation needs the prompt flush right
        model.to(self.device)
        model.eval()
        self._model, self._tokenizer = model, tokenizer

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[str]:
        import torch

        self.load()
        tok, model = self._tokenizer, self._model
        prompts = [
            tok.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True)
            for c in conversations
        ]
        replies: list[str] = []
        for start in range(0, len(prompts), params.batch_size):
            batch = prompts[start : start + params.batch_size]
            enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            kwargs: dict[str, Any] = {
                "max_new_tokens": params.max_new_tokens,
                "pad_token_id": tok.pad_token_id,
            }
            if params.temperature > 0:
                torch.manual_seed(params.seed + start)
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
            else:
                kwargs.update(do_sample=False)
            with torch.inference_mode():
                out = model.generate(**enc, **kwargs)
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            for row in tok.batch_decode(new_tokens, skip_special_tokens=True):
                replies.append(cut_at_stop(row, params.stop).strip())
        return replies

    def continuation_logprobs(
        self, conversation: Sequence[Message], continuations: Sequence[str]
    ) -> list[tuple[float, int]]:
        """(sum of token log-probabilities, token count) of each continuation of the
        assistant's turn after ``conversation`` — the forced-choice signal."""
        import torch

        self.load()
        tok, model = self._tokenizer, self._model
        prefix = tok.apply_chat_template(
            list(conversation), tokenize=False, add_generation_prompt=True
        )
        prefix_ids = tok(prefix, add_special_tokens=False)["input_ids"]
        out: list[tuple[float, int]] = []
        for text in continuations:
            cont_ids = tok(text, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([prefix_ids + cont_ids], device=self.device)
            with torch.inference_mode():
                logits = model(ids).logits[0, :-1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            targets = ids[0, 1:]
            picked = logprobs[torch.arange(len(targets)), targets][len(prefix_ids) - 1 :]
            out.append((float(picked.sum()), len(cont_ids)))
        return out
