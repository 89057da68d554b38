"""Text folding shared by matching, the index and quote verification. Standard library only."""

from __future__ import annotations

import re
import unicodedata

# Letters that carry no combining mark in Unicode, so NFKD alone does not reduce them.
_BASE_LETTERS = str.maketrans(
    {"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "AE"}
)
_APOSTROPHES = re.compile(r"['\u2019\u02bc`]")
_NON_WORD = re.compile(r"[\W_]+")
_TYPOGRAPHIC_QUOTES = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u2018": "'", "\u2019": "'"}
)


def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form: `Lương Tam-Quang` -> `luong tam quang`."""
    if text.isascii():
        # ASCII has no decompositions and no combining marks: skip the per-character walk,
        # which was most of the time spent building a big KB's index.
        bare = text
    else:
        decomposed = unicodedata.normalize("NFKD", text.translate(_BASE_LETTERS))
        bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    bare = _APOSTROPHES.sub("", bare.casefold())
    return " ".join(_NON_WORD.sub(" ", bare).split())


def compact(folded: str) -> str:
    """`viet nam` -> `vietnam`: spacing differences are not differences of name."""
    return folded.replace(" ", "")


def fold_quote(text: str) -> str:
    """For verbatim checks: same words, but whitespace runs and typographic quotes folded."""
    text = unicodedata.normalize("NFC", text).translate(_TYPOGRAPHIC_QUOTES)
    return " ".join(text.split())
