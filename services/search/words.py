"""The one word splitter of search: documents, the typo vocabulary and queries all go
through `words_of`, so a word of a title typed back is the same word (docs/search.md
"Matching and typos").

Normalisation is NFKC, casefold, NFKC again (Unicode's NFKC_Casefold, near enough):
the ligature fi is "fi", superscript two is "2", sharp s is "ss", Greek final sigma is
the plain sigma. A word is a run of
letters and digits; everything else (spaces, punctuation, "/", ".", "@", "_") separates,
so a path, a host or an e-mail address is its words.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")


def normalised(text: str) -> str:
    """`text` compatibility-composed and casefolded (NFKC, casefold, NFKC)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def words_of(text: str) -> list[str]:
    """The words of `text`, normalised, in order: runs of letters and digits."""
    return _WORD.findall(normalised(text))


def spans_of(text: str) -> list[str]:
    """The words of `text` as written (NFKC only, case kept), in `words_of`'s order
    where casefolding changes no word boundary: for an engine that normalises its own
    documents (Meilisearch), so the query's words are the document's, not ours."""
    return _WORD.findall(unicodedata.normalize("NFKC", text))
