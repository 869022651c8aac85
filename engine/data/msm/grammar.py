"""Small English helpers shared by the funnel's steps: word lists, case, articles."""

from __future__ import annotations


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
