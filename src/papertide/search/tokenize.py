"""Text to index terms: lowercase words, English stopwords dropped, Snowball stems.

The same function tokenizes papers for the lexical index and queries for search, so a
query word matches whatever the index stored for it. Stemming is Snowball's English
(Porter2) algorithm (Porter 1980; snowballstem.org) through PyStemmer's C implementation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer  # type: ignore[import-not-found]

# Words made of letters and digits; hyphens and apostrophes split words ("cross-lingual" ->
# "cross", "lingual"), as Lucene's StandardAnalyzer does.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Lucene's English stopword set extended with the function words of the Snowball English
# list (snowballstem.org/algorithms/english/stop.txt), minus words that carry meaning in
# paper titles ("not", "no", "against" are kept: "no free lunch").
STOPWORDS = frozenset(
    """
    a about above after again all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into
    is it its itself just me more most my myself nor of off on once only or other ought
    our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also via us may might must shall
    """.split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


# word -> its index term ("" for a stopword); bounded so odd tokens cannot grow it forever.
_TERMS: dict[str, str] = dict.fromkeys(STOPWORDS, "")
_TERMS_LIMIT = 1_000_000


def fold_accents(text: str) -> str:
    """``text`` without accents (combining marks dropped after NFKD: "Stéphane" ->
    "Stephane", "Łukasz" stays as is), other scripts untouched: for author names, which
    people type without their accents."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def name_words(text: str) -> list[str]:
    """The words of an author name as the index keeps them: lowercase, accents folded."""
    return words(fold_accents(text))


# ASCII text's separators (all but letters and digits) as spaces: str.split then reads the
# same words as _WORD, in a third of the time (a similar list reads some 55 abstracts).
_ASCII_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def words(text: str) -> list[str]:
    """The lowercase words of ``text``, in order, stopwords included."""
    if text.isascii():
        return text.lower().translate(_ASCII_SEPARATORS).split()
    return _WORD.findall(text.lower())


def analyze(text: str) -> list[str]:
    """Index terms of ``text``: words minus stopwords, stemmed, in order (repeats kept)."""
    return terms_of(words(text))


def terms_of(found: list[str]) -> list[str]:
    """Index terms of words as ``words`` reads them: stopwords dropped, stemmed, in order."""
    return list(filter(None, stems(found)))


def stems(found: list[str]) -> list[str]:
    """Each of ``found``'s index term, "" for a stopword, in the words' order."""
    terms = _TERMS
    mapped = list(map(terms.get, found))  # C-level loops: this runs for every paper indexed
    if None not in mapped:
        return mapped  # type: ignore[return-value]
    missing = list({w for w, t in zip(found, mapped, strict=True) if t is None})
    if len(terms) >= _TERMS_LIMIT:
        return list(map(_term_of, found))
    terms.update(zip(missing, _stemmer().stemWords(missing), strict=True))
    return list(map(terms.__getitem__, found))


# Snowball's English rules rewrite a word's ending only, so a word's term starts with the
# word's first two letters; the algorithm's exceptional forms (its "exception1" list) break
# that in three cases only: dying, lying, tying -> die, lie, tie.
_RESPELLED = {"die": "dy", "lie": "ly", "tie": "ty"}


@lru_cache(maxsize=4096)
def _words_starting(starts: tuple[str, ...]) -> re.Pattern[str]:
    """Whole words that begin with any of ``starts``: one scan of a text for every term.

    Each start comes first, then a look back past it for a letter or digit before the word:
    the engine then jumps between the places a start's first letter occurs, where a look
    back first is tried at every character (twice as long over an abstract)."""
    by_length: dict[int, list[str]] = {}
    for start in starts:
        by_length.setdefault(len(start), []).append(re.escape(start))
    either = "|".join(
        rf"(?:{'|'.join(group)})(?<![^\W_]{'.' * size})" for size, group in by_length.items()
    )
    return re.compile(rf"(?:{either})[^\W_]*")


def terms_in(text: str, terms: Iterable[str]) -> set[str]:
    """Those of ``terms`` (index terms, as ``analyze`` makes them) that ``text`` holds: the
    same as ``set(analyze(text)) & set(terms)``, but it stems only the words that start as
    a term does, not every word of the text (a search page asks this of 20 abstracts: full
    analysis was a sixth of its time), found in one scan of the text for all the terms."""
    wanted = {term for term in terms if term}
    lowered = text.lower()
    finder = _finder(wanted, lowered)
    if finder is None:
        return set()
    return wanted.intersection(map(_term_of, finder.findall(lowered)))


def term_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of each word of ``text`` whose index term is one of ``terms``, in
    order: where ``terms_in`` finds them, in the same single scan that stems only the words
    that start as a term does (a search page asks this of every hit's abstract)."""
    wanted = {term for term in terms if term}
    if not wanted:
        return []
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lowercase is longer: positions would move
        spans = ((m.start(), m.end(), _term_of(m.group().lower())) for m in _WORD.finditer(text))
        return [span for span in spans if span[2] in wanted]
    finder = _finder(wanted, lowered)
    if finder is None:
        return []
    spans = ((m.start(), m.end(), _term_of(m.group())) for m in finder.finditer(lowered))
    return [span for span in spans if span[2] in wanted]


def _finder(wanted: set[str], lowered: str) -> re.Pattern[str] | None:
    """The pattern of the words of ``lowered`` that may have one of ``wanted`` as their
    term (those starting as one does), or None when no such start is in the text."""
    starts = {term[:2] for term in wanted}
    starts.update(_RESPELLED[term] for term in wanted if term in _RESPELLED)
    present = tuple(sorted(start for start in starts if start in lowered))
    return _words_starting(present) if present else None


def _term_of(word: str) -> str:
    term = _TERMS.get(word)
    if term is None:
        term = _stem_one(word)
        if len(_TERMS) < _TERMS_LIMIT:
            _TERMS[word] = term
    return term


def _stem_one(word: str) -> str:
    return "" if word in STOPWORDS else str(_stemmer().stemWord(word))


def stem(word: str) -> str:
    """The index term for one lowercase word ("" for a stopword)."""
    return _term_of(word)
