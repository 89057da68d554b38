"""Text folding shared by matching, the index and quote verification. Standard library only."""

from __future__ import annotations

import re
from functools import lru_cache

# Letters that carry no combining mark in Unicode, so NFKD alone does not reduce them.
_BASE_LETTERS = str.maketrans(
    {"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "AE"}
)
# Patterns, compiled by `re` on first use: an ASCII name never needs them (start-up time).
_APOSTROPHES = r"['\u2019\u02bc`]"
_NON_WORD = r"[\W_]+"
_TYPOGRAPHIC_QUOTES = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u2018": "'", "\u2019": "'"}
)


# ASCII in one pass: apostrophes go, every other character that is not a letter or a digit
# becomes a space. The same result as the general path (a property test holds them equal).
_ASCII_FOLD = str.maketrans(
    {
        chr(code): None if chr(code) in "'`" else " "
        for code in range(128)
        if not chr(code).isalnum()
    }
)


# Memoised: building an index folds each name twice (alias checks, then name keys), and
# titles repeat from person to person. 2**18 entries cover a 100,000-person KB.
@lru_cache(maxsize=1 << 18)
def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form: `Lương Tam-Quang` -> `luong tam quang`."""
    if text.isascii():
        # No decompositions, no combining marks: most names in a big KB take this path.
        return " ".join(text.lower().translate(_ASCII_FOLD).split())
    return _fold_unicode(text)


def _fold_unicode(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.translate(_BASE_LETTERS))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    bare = re.sub(_APOSTROPHES, "", bare.casefold())
    return " ".join(re.sub(_NON_WORD, " ", bare).split())


def compact(folded: str) -> str:
    """`viet nam` -> `vietnam`: spacing differences are not differences of name."""
    return folded.replace(" ", "")


def fold_quote(text: str) -> str:
    """For verbatim checks: same words, but whitespace runs and typographic quotes folded."""
    import unicodedata

    text = unicodedata.normalize("NFC", text).translate(_TYPOGRAPHIC_QUOTES)
    return " ".join(text.split())
