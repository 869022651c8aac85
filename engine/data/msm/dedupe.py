"""Step 5 of the funnel: generated documents and near-duplicate removal."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Doc:
    """One generated document and its provenance (a row of the ``msm_docs`` dataset)."""

    text: str
    clause: str
    doc_type: str
    idea: str
    generator: str
    seed: int

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


_WORD = re.compile(r"\w+")


def shingles(text: str, k: int = 5) -> frozenset[str]:
    """Lower-cased word ``k``-shingles; a text shorter than ``k`` words is one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) <= k:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + k]) for i in range(len(words) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def near_duplicates(texts: Sequence[str], threshold: float) -> list[int]:
    """Indices of texts whose similarity to an earlier kept text exceeds ``threshold``.

    Exact Jaccard over word 5-shingles, with prefix filtering: shingles are ordered rarest
    first, and two sets with Jaccard ≥ t must share one of the first ``|s| - ceil(t·|s|) + 1``
    of each, so only kept documents sharing a prefix shingle are compared.
    """
    sets = [shingles(t) for t in texts]
    freq: Counter[str] = Counter(s for ss in sets for s in ss)
    index: dict[str, list[int]] = {}
    dropped: list[int] = []
    for i, s in enumerate(sets):
        ordered = sorted(s, key=lambda x: (freq[x], x))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]
        candidates = sorted({j for x in prefix for j in index.get(x, ())})
        is_dup = False
        for j in candidates:
            other = sets[j]
            # Size filter: J ≤ min/max, so a big size gap cannot exceed the threshold.
            if min(len(s), len(other)) < threshold * max(len(s), len(other)):
                continue
            if jaccard(s, other) > threshold:
                is_dup = True
                break
        if is_dup:
            dropped.append(i)
            continue
        for x in prefix:
            index.setdefault(x, []).append(i)
    return dropped


def dedupe(docs: Sequence[Doc], threshold: float) -> list[Doc]:
    """``docs`` in order without those too similar (Jaccard > threshold) to an earlier kept one."""
    drop = set(near_duplicates([d.text for d in docs], threshold))
    return [d for i, d in enumerate(docs) if i not in drop]
