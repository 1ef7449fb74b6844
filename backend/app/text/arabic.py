"""Arabic text normalisation: the ONE folding used for stored text, search queries and names.

``normalize`` is applied identically to the stored ``normalized_text`` column and to every search
query, so the PostgreSQL ``arabic`` text-search configuration (and pg_trgm) always compares
like with like.  See ``docs/arabic-search-notes.md`` for what PostgreSQL does with the result:
the snowball stemmer does not strip وال/فال, و before ا, or ال from short words, so the full-text
side additionally runs the SQL function ``bahr_search_fold`` on both the indexed text and the
query (defined there).  That fold is deliberately NOT part of ``normalize``.

Pipeline (order matters):

1. Delete the *isolated* presentation forms of harakat (U+FE70..U+FE7F, U+FC5E..U+FC63).  NFKC
   would turn them into SPACE + mark; the mark is removed later but the space would become a
   bogus word break, so they go first.
2. Unicode NFKC: presentation forms and ligatures (e.g. U+FEFB ﻻ -> لا, U+FEF5 ﻵ -> لآ) become
   base letters, and decomposed hamza/madda sequences compose (و + U+0654 -> ؤ, ا + U+0653 -> آ),
   so precomposed and decomposed input fold the same way.  This must happen BEFORE marks are
   removed, otherwise a decomposed ؤ would lose its hamza while a precomposed one keeps it.
3. Per-character mapping (str.replace for the frequent characters, one ``str.translate`` only
   when a rare one is present): remove harakat / Quranic / other Arabic combining marks and
   tatweel, remove zero-width and bidi controls, fold أ إ آ ٱ -> ا, ى -> ي, ة -> ه, and map
   Arabic-Indic / Extended Arabic-Indic digits to ASCII.
4. Collapse every run of Unicode whitespace to one ASCII space and strip the ends.

Latin text is left as NFKC leaves it (no case folding).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable
from typing import Final

__all__ = [
    "ARABIC_LETTER_RE",
    "HEADLINE_OPTIONS",
    "HEADLINE_START",
    "HEADLINE_STOP",
    "align_words",
    "contains_arabic",
    "highlight",
    "highlight_from_headline",
    "normalize",
]


def _span(first: int, last: int) -> range:
    return range(first, last + 1)


# Arabic combining marks (harakat, shadda, sukun, superscript alef, Quranic annotation marks,
# Arabic Extended-A/B marks).  All of these are removed after NFKC.
_MARKS: Final[tuple[range, ...]] = (
    _span(0x0610, 0x061A),  # honorifics / small high letters
    _span(0x064B, 0x065F),  # fathatan .. wavy hamza below (incl. hamza above/below U+0654/55)
    _span(0x0670, 0x0670),  # superscript (dagger) alef
    _span(0x06D6, 0x06ED),  # Quranic annotation marks
    _span(0x0898, 0x089F),  # Arabic Extended-B marks
    _span(0x08CA, 0x08E1),  # Arabic Extended-A marks
    _span(0x08E3, 0x08FF),  # Arabic Extended-A marks
)
_TATWEEL: Final = 0x0640

# Zero-width characters and bidi controls (plus ALM U+061C and WORD JOINER U+2060).
_FORMAT_CONTROLS: Final[tuple[range, ...]] = (
    _span(0x200B, 0x200F),  # ZWSP, ZWNJ, ZWJ, LRM, RLM
    _span(0x202A, 0x202E),  # LRE, RLE, PDF, LRO, RLO
    _span(0x2066, 0x2069),  # LRI, RLI, FSI, PDI
    _span(0xFEFF, 0xFEFF),  # BOM / ZWNBSP
    _span(0x061C, 0x061C),  # ARABIC LETTER MARK
    _span(0x2060, 0x2060),  # WORD JOINER
)

_LETTER_FOLDS: Final[dict[str, str]] = {
    "\u0623": "\u0627",  # أ -> ا
    "\u0625": "\u0627",  # إ -> ا
    "\u0622": "\u0627",  # آ -> ا
    "\u0671": "\u0627",  # ٱ (alef wasla) -> ا
    "\u0649": "\u064a",  # ى (alef maqsura) -> ي
    "\u0629": "\u0647",  # ة (taa marbuta) -> ه
}


def _removed_codepoints() -> frozenset[int]:
    cps: set[int] = {_TATWEEL}
    for block in (*_MARKS, *_FORMAT_CONTROLS):
        cps.update(block)
    return frozenset(cps)


_REMOVED: Final[frozenset[int]] = _removed_codepoints()


def _isolated_mark_forms() -> dict[int, None]:
    """Compatibility characters whose NFKC is whitespace + only removable marks/tatweel.

    That is U+FE70..U+FE7F (isolated and tatweel forms of harakat) and U+FC5E..U+FC63 (isolated
    shadda ligatures).  Deleting them before NFKC prevents a spurious word break.
    """
    table: dict[int, None] = {}
    for cp in (*_span(0xFB50, 0xFDFF), *_span(0xFE70, 0xFEFF)):
        decomposed = unicodedata.normalize("NFKC", chr(cp))
        if decomposed == chr(cp):
            continue
        rest = decomposed.lstrip()
        if rest and all(ord(ch) in _REMOVED for ch in rest):
            table[cp] = None
    return table


_PRE_NFKC: Final[dict[int, None]] = _isolated_mark_forms()
_PRE_NFKC_RE: Final[re.Pattern[str]] = re.compile(
    "[" + "".join(re.escape(chr(cp)) for cp in sorted(_PRE_NFKC)) + "]"
)


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = dict.fromkeys(_REMOVED)
    table.update({ord(src): dst for src, dst in _LETTER_FOLDS.items()})
    for i in range(10):
        table[0x0660 + i] = str(i)  # Arabic-Indic digits
        table[0x06F0 + i] = str(i)  # Extended Arabic-Indic (Persian/Urdu) digits
    return table


_FOLD: Final[dict[int, str | None]] = _fold_table()

# Fast path for ``normalize``: the everyday harakat and tatweel are removed with str.replace; the
# remaining removable / foldable characters are rare and trigger one full ``translate``.
_COMMON_REMOVED: Final[tuple[str, ...]] = (
    *(chr(cp) for cp in _span(0x064B, 0x0652)),  # fathatan .. sukun
    "\u0670",  # superscript alef
    "\u0640",  # tatweel
)
_RARE_RE: Final[re.Pattern[str]] = re.compile(
    "["
    + "".join(
        re.escape(chr(cp))
        for cp in sorted(_FOLD)
        if chr(cp) not in _COMMON_REMOVED and chr(cp) not in _LETTER_FOLDS
    )
    + "]"
)

#: Any Arabic letter (base block, Supplement, Extended-A and the letter presentation forms).
#: Tatweel, harakat, digits and punctuation are deliberately NOT letters.
ARABIC_LETTER_RE: Final[re.Pattern[str]] = re.compile(
    "[\u0620-\u063f\u0641-\u064a\u066e\u066f\u0671-\u06d3\u06d5\u06ee\u06ef\u06fa-\u06fc\u06ff"
    "\u0750-\u077f\u0870-\u0887\u0889-\u088e\u08a0-\u08c8"
    "\ufb50-\ufbb1\ufbd3-\ufd3d\ufd50-\ufd8f\ufd92-\ufdc7\ufdf0-\ufdfb\ufe80-\ufefc]"
)


def contains_arabic(text: str) -> bool:
    """True if ``text`` contains at least one Arabic letter (raw or normalised text)."""
    return ARABIC_LETTER_RE.search(text) is not None


def normalize(text: str) -> str:
    """Fold Arabic text to the canonical search/storage form (see module docstring).

    Idempotent: ``normalize(normalize(x)) == normalize(x)``.  About 3-4 us for a fully
    vocalised 85-character verse, ~2 us for a bare one (CPython 3.11).
    """
    if text.isascii():
        return " ".join(text.split())
    if _PRE_NFKC_RE.search(text) is not None:
        text = text.translate(_PRE_NFKC)
    text = unicodedata.normalize("NFKC", text)
    # str.translate with a dict costs ~65 ns per character, so the frequent characters go through
    # chained str.replace (C-speed scans) and the full table only runs when a rare one is present.
    for char in _COMMON_REMOVED:
        text = text.replace(char, "")
    for src, dst in _LETTER_FOLDS.items():
        text = text.replace(src, dst)
    if _RARE_RE.search(text) is not None:
        text = text.translate(_FOLD)
    # str.split() with no argument splits on every Unicode whitespace character.
    return " ".join(text.split())


_TOKEN_RE: Final[re.Pattern[str]] = re.compile(r"\S+")


def align_words(original: str) -> list[tuple[str, str]]:
    """Split ``original`` on whitespace and pair every token with its normalised form.

    Invariant (tested): ``" ".join(n for _, n in align_words(t) if n) == normalize(t)``.
    A token can normalise to ``""`` (a lone haraka, tatweel or ZWSP) or, rarely, to several
    words (NFKC expands the ligature U+FDFA into four words), so consumers must handle both.
    """
    return [(m.group(), normalize(m.group())) for m in _TOKEN_RE.finditer(original)]


_WORD_RE: Final[re.Pattern[str]] = re.compile(r"[^\W_]+")
# Characters kept outside the highlight markers when they lead/trail a token.
_EDGE_PUNCT: Final[str] = (
    string.punctuation + "\u060c\u061b\u061e\u061f\u066a\u066b\u066c\u066d\u06d4"
    "\u00ab\u00bb\u2018\u2019\u201c\u201d\u2026\u2013\u2014\ufd3e\ufd3f"
)

#: Markers for ``ts_headline`` (private-use code points: never produced by ``normalize`` from
#: real text, and free of whitespace, which ``highlight_from_headline`` relies on).
HEADLINE_START: Final = "\ue000"
HEADLINE_STOP: Final = "\ue001"
#: Options string for ``ts_headline``; pass it as a bind parameter.
HEADLINE_OPTIONS: Final = f"HighlightAll=true, StartSel={HEADLINE_START}, StopSel={HEADLINE_STOP}"


def _escape_identity(text: str) -> str:
    return text


def _rebuild(
    original: str,
    hits: list[bool],
    start: str,
    stop: str,
    escape: Callable[[str], str],
) -> str:
    """Re-emit ``original`` verbatim (whitespace included), wrapping the tokens flagged in
    ``hits`` (one flag per whitespace token) and keeping edge punctuation outside the markers."""
    out: list[str] = []
    pos = 0
    for match, hit in zip(_TOKEN_RE.finditer(original), hits, strict=True):
        out.append(escape(original[pos : match.start()]))
        token = match.group()
        if hit:
            head = len(token) - len(token.lstrip(_EDGE_PUNCT))
            core = token[head:].rstrip(_EDGE_PUNCT)
            if not core:  # punctuation-only token: wrap it whole
                head, core = 0, token
            tail = token[head + len(core) :]
            out.append(escape(token[:head]) + start + escape(core) + stop + escape(tail))
        else:
            out.append(escape(token))
        pos = match.end()
    out.append(escape(original[pos:]))
    return "".join(out)


def highlight(
    original: str,
    matched_normalized_words: Iterable[str],
    start: str = "<mark>",
    stop: str = "</mark>",
    *,
    escape: Callable[[str], str] = _escape_identity,
) -> str:
    """Wrap every word of the vocalised ``original`` whose normalised form is in the given set.

    A token matches if any alphanumeric piece of its normalised form equals one of
    ``matched_normalized_words`` (normalised again here, so raw words are accepted).  This is an
    exact-form match, NOT the stemmer's: use it when the matched words are known (e.g. a
    trigram/ILIKE hit), and ``highlight_from_headline`` for full-text search results.
    Whitespace of ``original`` is preserved; pass ``escape=html.escape`` for HTML output.
    """
    wanted = {normalize(w) for w in matched_normalized_words}
    hits = [
        any(piece in wanted for piece in _WORD_RE.findall(norm))
        for _, norm in align_words(original)
    ]
    return _rebuild(original, hits, start, stop, escape)


def highlight_from_headline(
    original: str,
    headline: str,
    start: str = "<mark>",
    stop: str = "</mark>",
    *,
    start_sel: str = HEADLINE_START,
    stop_sel: str = HEADLINE_STOP,
    escape: Callable[[str], str] = _escape_identity,
) -> str:
    """Transfer PostgreSQL ``ts_headline`` marks onto the vocalised ``original``.

    ``headline`` must be computed, with ``HEADLINE_OPTIONS`` (HighlightAll=true so the whole
    text comes back), on exactly the text that was indexed::

        ts_headline('arabic', bahr_search_fold(normalized_text), query, :HEADLINE_OPTIONS)

    so that what is marked is exactly what ``@@`` matched (same parser, same stemmer, same
    prefix folding).  Running ts_headline on the vocalised original instead misses words whose
    raw form stems differently (ذِكْرى, إِلى, ٱل..., والليل, الأحبة ...).

    Alignment is by WORD INDEX: ``normalize`` maps each whitespace token of the original to zero
    or more words, and ``bahr_search_fold`` only trims word prefixes (never removes, splits or
    joins words), so the k-th word of the headline is the k-th normalised word.  A token is
    wrapped if any of its words carries a marker.  Raises ``ValueError`` if the word counts
    disagree (wrong text, or HighlightAll missing) or if ``original`` itself contains a marker
    character; callers fall back to :func:`highlight`.  Whitespace of ``original`` is preserved.
    """
    if start_sel in original or stop_sel in original:
        # The text itself holds a marker character: the marks cannot be told from the text.
        raise ValueError("the original text contains a headline marker character")
    word_hits: list[bool] = []
    inside = False
    for chunk in headline.split():
        hit = inside or start_sel in chunk
        last_start, last_stop = chunk.rfind(start_sel), chunk.rfind(stop_sel)
        if last_start != last_stop:  # both -1 means no marker in this chunk
            inside = last_start > last_stop
        if chunk.replace(start_sel, "").replace(stop_sel, ""):
            word_hits.append(hit)
        elif hit and word_hits:  # a marker detached from its word: attach to the previous one
            word_hits[-1] = True

    token_hits: list[bool] = []
    index = 0
    for _, norm in align_words(original):
        count = len(norm.split())
        token_hits.append(any(word_hits[index : index + count]))
        index += count
    if index != len(word_hits):
        raise ValueError(
            f"headline has {len(word_hits)} words but the normalised original has {index}; "
            "compute ts_headline on bahr_search_fold(normalized_text) with HighlightAll=true"
        )
    return _rebuild(original, token_hits, start, stop, escape)
