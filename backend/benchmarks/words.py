"""Synthetic Arabic verse text for the benchmarks.

The vocabulary has two parts, 2,500 entries in all:

* every distinct real Arabic word (by its normalised form, at least two letters) in
  ``app/data/meters.py`` (meter descriptions, example verses, feet) and
  ``app/data/sample_analyses.jsonl`` (13 famous verses, poets, sources): 319 words;
* Arabic-shaped words built the way Arabic builds words: 16 classical patterns (awzan of
  فعل: فَعَلَ فاعِل مَفْعُول فَعِيل فِعَال فُعُول مَفْعَل تَفْعِيل اِفْتِعَال اِسْتِفْعَال مُفَاعَلَة فَعْلَة
  يَفْعُلُ تَفَاعُل اِنْفِعَال أَفْعَل), vocalised, applied to triliteral roots drawn with a fixed seed
  from 25 consonants. Many are real words, the rest are possible ones.

The repository holds only 319 distinct words, and a vocabulary that small makes every
word match about 3 % of a million verses (and the stemmer folds clitic variants of a word
into one lexeme, so adding ``و``/``ال`` forms does not help): the pattern words give the
search the spread of distinct lexemes real text has. Entries are shuffled with a fixed
seed, so every run uses the same words in the same order.

Each word keeps its vocalised spelling beside its normalised form
(:func:`app.text.arabic.normalize`), so a verse can be generated twice at once, vocalised
and normalised, without calling ``normalize`` per row: joining normalised words with single
spaces equals normalising the joined vocalised words (checked by
:func:`check_vocabulary`).

Word frequencies are skewed like natural text: a word's rank is ``floor(u**2 * N)`` for a
uniform ``u``: the most frequent word is 2 % of all words (in about 18 % of verses), a
median one 0.03 % (70× rarer). Python (:func:`verse`) and SQL (:data:`SQL_WORD_INDEX`) use
the same rule.

The search benchmark's corpus (:func:`corpus_vocabulary`, :class:`ZipfSampler`) is built
differently, because a uniform or squared-uniform vocabulary makes every word mid-frequency
(PITFALLS: "Synthetic corpora lie about search"): ``CORPUS_VOCABULARY_SIZE`` distinct forms —
the commonest Arabic function words first, then the real words above, then pattern words —
drawn with a Zipf law of exponent ``ZIPF_S`` (rank ``k`` has weight ``k ** -s``), 8–16 words
per verse.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.text.arabic import normalize

BACKEND_DIR = Path(__file__).resolve().parents[1]
SOURCES = (
    BACKEND_DIR / "app" / "data" / "meters.py",
    BACKEND_DIR / "app" / "data" / "sample_analyses.jsonl",
)
VOCABULARY_SIZE = 2_500
SEED = 20_240_601
SKEW = 2.0  # rank = floor(u ** SKEW * N)
WORDS_MIN, WORDS_MAX = 8, 12

#: The same skew in SQL, for ``generate_series`` generation (``:n`` = vocabulary size).
SQL_WORD_INDEX = f"1 + floor(power(random(), {SKEW}) * :n)::int"

_TOKEN = re.compile(r"[\u0621-\u063A\u0641-\u064A\u064B-\u065F\u0670\u0671]+")
_CONSONANTS = "بتثجحخدذرزسشصضطظعغفقكلمنه"
#: The classical patterns, vocalised; 1, 2, 3 stand for the root's letters (ف ع ل).
_PATTERNS = (
    "1َ2َ3َ",
    "1َا2ِ3",
    "مَ1ْ2ُو3",
    "1َ2ِي3",
    "1ِ2َا3",
    "1ُ2ُو3",
    "مَ1ْ2َ3",
    "تَ1ْ2ِي3",
    "اِ1ْتِ2َا3",
    "اِسْتِ1ْ2َا3",
    "مُ1َا2َ3َة",
    "1َ2ْ3َة",
    "يَ1ْ2ُ3ُ",
    "تَ1َا2ُ3",
    "اِنْ1ِ2َا3",
    "أَ1ْ2َ3",
)


@dataclass(frozen=True)
class Vocabulary:
    vocalised: tuple[str, ...]
    normalised: tuple[str, ...]
    base_words: int

    def __len__(self) -> int:
        return len(self.normalised)


def _base_words() -> dict[str, str]:
    """normalised -> first vocalised spelling, in order of appearance."""
    found: dict[str, str] = {}
    for path in SOURCES:
        for token in _TOKEN.findall(path.read_text(encoding="utf-8")):
            norm = normalize(token)
            if len(norm) >= 2 and " " not in norm and norm not in found:
                found[norm] = token
    return found


def _pattern_words(rng: random.Random) -> Iterator[str]:
    """Vocalised words: every pattern applied to one seeded random root after another."""
    while True:
        root = rng.sample(_CONSONANTS, 3)
        for pattern in _PATTERNS:
            yield pattern.replace("1", root[0]).replace("2", root[1]).replace("3", root[2])


@cache
def vocabulary(size: int = VOCABULARY_SIZE) -> Vocabulary:
    base = _base_words()
    forms: dict[str, str] = dict(base)
    rng = random.Random(SEED)
    for vocal in _pattern_words(rng):
        if len(forms) >= size:
            break
        forms.setdefault(normalize(vocal), vocal)
    chosen = list(forms)[:size]
    rng.shuffle(chosen)
    return Vocabulary(
        vocalised=tuple(forms[n] for n in chosen),
        normalised=tuple(chosen),
        base_words=len(base),
    )


#: The search corpus: distinct word forms, Zipf exponent, words per verse.
CORPUS_VOCABULARY_SIZE = 60_000
ZIPF_S = 1.0
CORPUS_WORDS_MIN, CORPUS_WORDS_MAX = 8, 16
#: The commonest words of classical Arabic verse (particles, prepositions, pronouns, قال):
#: the head of a real frequency list, so the commonest query words are what they are in
#: real text.
FUNCTION_WORDS = (
    "مِنْ",
    "فِي",
    "عَلَى",
    "لا",
    "ما",
    "إِلَى",
    "عَنْ",
    "يا",
    "قَدْ",
    "لَمْ",
    "إِذا",
    "إِنَّ",
    "قالَ",
    "كُلُّ",
    "أَنْ",
    "لَهُ",
    "بِهِ",
    "هُوَ",
    "مَعَ",
    "حَتَّى",
    "كانَ",
    "بَيْنَ",
    "عِنْدَ",
    "ثُمَّ",
    "إِلّا",
    "لَوْ",
    "أَوْ",
    "لَها",
    "بِها",
    "الَّذِي",
)


@cache
def corpus_vocabulary(size: int = CORPUS_VOCABULARY_SIZE) -> Vocabulary:
    """Distinct forms in rank order: function words, the real words, then pattern words."""
    forms: dict[str, str] = {}
    for vocal in FUNCTION_WORDS:
        forms.setdefault(normalize(vocal), vocal)
    base = list(_base_words().items())
    random.Random(SEED + 1).shuffle(base)
    for norm, vocal in base:
        forms.setdefault(norm, vocal)
    rng = random.Random(SEED)
    for vocal in _pattern_words(rng):
        if len(forms) >= size:
            break
        forms.setdefault(normalize(vocal), vocal)
    chosen = list(forms)[:size]
    return Vocabulary(
        vocalised=tuple(forms[n] for n in chosen),
        normalised=tuple(chosen),
        base_words=len(base),
    )


class ZipfSampler:
    """Word ranks with ``P(k) ∝ k ** -s`` (exact, by bisection on the cumulative weights)."""

    def __init__(self, n: int, s: float = ZIPF_S, seed: int = SEED) -> None:
        self.n = n
        self.s = s
        self.rng = random.Random(seed)
        total = 0.0
        self.cum: list[float] = []
        for k in range(1, n + 1):
            total += k**-s
            self.cum.append(total)
        self.population = range(n)

    def verse(self) -> list[int]:
        k = self.rng.randint(CORPUS_WORDS_MIN, CORPUS_WORDS_MAX)
        return self.rng.choices(self.population, cum_weights=self.cum, k=k)


def word_index(rng: random.Random, n: int) -> int:
    """0-based index of a word, with the skew documented above."""
    return min(n - 1, int(rng.random() ** SKEW * n))


def verse(rng: random.Random, vocab: Vocabulary) -> tuple[str, str]:
    """(vocalised, normalised) text of one synthetic verse of 8–12 words."""
    picks = [word_index(rng, len(vocab)) for _ in range(rng.randint(WORDS_MIN, WORDS_MAX))]
    return (
        " ".join(vocab.vocalised[i] for i in picks),
        " ".join(vocab.normalised[i] for i in picks),
    )


def check_vocabulary(vocab: Vocabulary, samples: int = 200) -> None:
    """The property SQL generation relies on: normalise(join(vocalised)) == join(normalised)."""
    rng = random.Random(SEED)
    for word in vocab.normalised:
        if not word or " " in word or normalize(word) != word:
            raise AssertionError(f"bad vocabulary entry {word!r}")
    for _ in range(samples):
        vocal, norm = verse(rng, vocab)
        if normalize(vocal) != norm:
            raise AssertionError(f"normalize({vocal!r}) != {norm!r}")
