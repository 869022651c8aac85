"""Small English helpers shared by the funnel's steps: word lists, case, articles."""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# A sentence ends at . ! or ? (and any closing quote), not after "St." or "e.g.".
_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\bSt\.)(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\be\.g\.)(?<!\bi\.e\.)"
    r"[\"'”’)]*\s+"
)


def split_words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words, for writing word lists as one string."""
    return tuple(text.split())


def lower_first(s: str) -> str:
    # Keep acronyms ("AI systems…") intact.
    if len(s) > 1 and s[1].isupper():
        return s
    return s[:1].lower() + s[1:]


def upper_first(s: str) -> str:
    """``s`` with its first character upper-cased."""
    return s[:1].upper() + s[1:]


def article(word: str) -> str:
    """The indefinite article (``a``/``an``) that reads right before ``word``."""
    low = word.lower()
    if low.startswith(("uni", "eu", "one")):
        return "a"
    if low.startswith(("faq", "honest", "hour")) or low[:1] in "aeiou":
        return "an"
    return "a"


def possessive(name: str) -> str:
    """``name``'s possessive form: ``Parcelpine's``, ``Hughes'``."""
    return name + ("'" if name.endswith("s") else "'s")


def words(text: str) -> list[str]:
    """Lower-cased words (letters and digits, with an inner apostrophe)."""
    return _WORD.findall(text.lower())


def sentences(text: str) -> list[str]:
    """A document's sentences: lines split further at ``.``, ``!`` or ``?``."""
    out: list[str] = []
    for line in text.splitlines():
        out += [s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip()]
    return out


@functools.lru_cache(maxsize=65536)
def sentence_keys(text: str, min_words: int = 4) -> tuple[str, ...]:
    """The normalised sentences of ``text`` long enough to count as repeats (4+ words)."""
    out = []
    for s in sentences(text):
        if s.endswith(":"):
            continue  # a label ("ledger_ops12 wrote:", "Key points:"), not prose
        w = words(s)
        if len(w) >= min_words:
            out.append(" ".join(w))
    return tuple(out)
