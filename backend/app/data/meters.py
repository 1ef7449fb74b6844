"""Reference data for the sixteen classical Arabic meters (buhur).

This is the ONE place where meter facts live: the tafa'il of each meter, the notation pattern
derived from them, descriptions, attested example verses and the name spellings people type.
Pure Python (no database), so seeds, migrations, tests and tools can all import it.

Notation
--------
A pattern writes every letter of a hemistich as ``/`` (moving letter, mutaharrik) or ``o``
(still letter, sakin), one group per foot, groups separated by ONE space.  Example: al-Tawil
``//o/o //o/o/o //o/o //o/o/o``.  Patterns are never typed by hand: :func:`derive_pattern`
builds them from the feet through :data:`FOOT_PATTERNS`, and the test suite checks every foot of
that table against its vocalised spelling (:data:`FOOT_SPELLINGS`) with
:func:`foot_pattern_from_letters`.

Conventions chosen here
-----------------------
* ``feet`` is the tafa'il of ONE hemistich (shatr), in the form used in practice, written with
  the sound (unmodified) feet.  Where the circle form is never used in a complete hemistich,
  ``feet`` drops or replaces what is never used and ``circle_feet`` keeps the circle form:
  the majzu'-only meters (al-Madid, al-Hazaj, al-Mudari', al-Muqtadab, al-Mujtathth) lose
  their last foot; al-Wafir's third foot is always maqtuf (mufa'alatun -> fa'ulun); al-Sari''s
  final maf'ulatu never appears sound and is used as fa'ilun.  Obligatory changes that touch
  only the 'arud while some darb keeps the sound foot (the qabd of al-Tawil's 'arud, the khabn
  of al-Basit's, the hadhf of al-Ramal's) are NOT applied; the descriptions state them.
* Split-peg feet ("mafruq al-watad"): al-Khafif and al-Mujtathth have ``مستفع لن`` and
  al-Mudari' has ``فاع لاتن``.  They are written UNSPLIT here (``مستفعلن`` / ``فاعلاتن``) so that
  splitting ``feet`` on whitespace always yields whole feet.  The letter pattern is identical
  (``/o/o//o`` and ``/o//o/o``); only the place of the watad differs, which matters for which
  zihaf may apply, not for the pattern.  The descriptions of those meters say so.
* Examples hold a whole verse (bayt) in one string, the two hemistichs separated by
  :data:`HEMISTICH_SEPARATOR` (``" ... "``).  A meter has examples only where both the
  attribution and the meter of the verse are well attested; otherwise its tuple is empty.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from app.text.arabic import normalize

__all__ = [
    "FOOT_PATTERNS",
    "FOOT_SPELLINGS",
    "HEMISTICH_SEPARATOR",
    "METERS",
    "METER_KEYS",
    "Example",
    "MeterSpec",
    "derive_pattern",
    "find_meter",
    "foot_pattern_from_letters",
    "lookup_name",
    "name_key",
    "seed_rows",
]

MOVING: Final = "/"
STILL: Final = "o"
HEMISTICH_SEPARATOR: Final = " ... "

# ---------------------------------------------------------------------------------------------
# Feet
# ---------------------------------------------------------------------------------------------

#: Each taf'ila, written bare (no harakat), to its pattern.  Only whole (single-word) feet are
#: keys; split-peg forms are written unsplit in ``feet`` (see the module docstring).
FOOT_PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "فعولن": "//o/o",
        "فاعلن": "/o//o",
        "مفاعيلن": "//o/o/o",
        "فاعلاتن": "/o//o/o",
        "مستفعلن": "/o/o//o",
        "متفاعلن": "///o//o",
        "مفاعلتن": "//o///o",
        "مفعولات": "/o/o/o/",
    }
)

#: The same feet fully vocalised.  A long-vowel letter (ا و ي used as madd) is written without
#: a sign; every other letter carries a haraka or a sukun.
FOOT_SPELLINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "فعولن": "فَعُولُنْ",
        "فاعلن": "فَاعِلُنْ",
        "مفاعيلن": "مَفَاعِيلُنْ",
        "فاعلاتن": "فَاعِلَاتُنْ",
        "مستفعلن": "مُسْتَفْعِلُنْ",
        "متفاعلن": "مُتَفَاعِلُنْ",
        "مفاعلتن": "مُفَاعَلَتُنْ",
        "مفعولات": "مَفْعُولَاتُ",
    }
)

_FATHA: Final = "\u064e"
_DAMMA: Final = "\u064f"
_KASRA: Final = "\u0650"
_TANWIN: Final = frozenset("\u064b\u064c\u064d")  # fathatan, dammatan, kasratan
_SHADDA: Final = "\u0651"
_SUKUN: Final = "\u0652"
_HARAKAT: Final = frozenset((_FATHA, _DAMMA, _KASRA))
_MADD_LETTERS: Final = frozenset("اوىي")


def _letters_with_marks(spelling: str) -> Iterator[tuple[str, frozenset[str]]]:
    """Yield each base letter of ``spelling`` with the set of combining marks after it."""
    base: str | None = None
    marks: set[str] = set()
    for ch in unicodedata.normalize("NFC", spelling):
        if unicodedata.combining(ch):
            if base is None:
                raise ValueError(f"mark U+{ord(ch):04X} with no letter before it in {spelling!r}")
            marks.add(ch)
            continue
        if base is not None:
            yield base, frozenset(marks)
        base, marks = ch, set()
    if base is not None:
        yield base, frozenset(marks)


def _letter_pattern(letter: str, marks: frozenset[str], spelling: str) -> str:
    unknown = marks - _HARAKAT - _TANWIN - {_SHADDA, _SUKUN}
    if unknown:
        names = ", ".join(f"U+{ord(m):04X}" for m in sorted(unknown))
        raise ValueError(f"unsupported mark(s) {names} on {letter!r} in {spelling!r}")
    if marks & _TANWIN:  # a moving letter followed by a still (unwritten) nun
        moving = MOVING + STILL
    elif marks & _HARAKAT:
        moving = MOVING
    else:
        moving = ""
    if _SHADDA in marks:  # a doubled letter: first still, then moving
        if not moving:
            raise ValueError(f"shadda without haraka on {letter!r} in {spelling!r}")
        return STILL + moving
    if moving:
        if _SUKUN in marks:
            raise ValueError(f"both haraka and sukun on {letter!r} in {spelling!r}")
        return moving
    if _SUKUN in marks or letter in _MADD_LETTERS:
        return STILL
    raise ValueError(f"letter {letter!r} in {spelling!r} has neither haraka nor sukun")


def foot_pattern_from_letters(spelling: str) -> str:
    """Scan a fully vocalised word letter by letter into the ``/``/``o`` notation.

    A letter with a haraka is ``/``; a letter with sukun, or a bare long-vowel letter
    (ا و ي ى as madd), is ``o``; shadda is ``o/`` (the doubled letter); tanwin is ``/o``.
    Whitespace and tatweel are ignored.  Any other bare letter is an error, so a spelling that
    forgot a sign cannot silently produce a wrong pattern.

    >>> foot_pattern_from_letters("فَعُولُنْ")
    '//o/o'
    """
    out: list[str] = []
    for letter, marks in _letters_with_marks(spelling):
        if letter.isspace() or letter == "\u0640":
            if marks:
                raise ValueError(f"mark on a space or tatweel in {spelling!r}")
            continue
        out.append(_letter_pattern(letter, marks, spelling))
    if not out:
        raise ValueError("empty spelling")
    return "".join(out)


def derive_pattern(feet: str) -> str:
    """Map each foot of ``feet`` (whitespace-separated) through :data:`FOOT_PATTERNS`.

    The result has one pattern group per foot, joined by ONE space.

    >>> derive_pattern("فعولن مفاعيلن")
    '//o/o //o/o/o'
    """
    names = feet.split()
    if not names:
        raise ValueError("no feet given")
    groups: list[str] = []
    for foot in names:
        try:
            groups.append(FOOT_PATTERNS[foot])
        except KeyError:
            raise ValueError(f"unknown foot {foot!r} in {feet!r}") from None
    return " ".join(groups)


# ---------------------------------------------------------------------------------------------
# Meters
# ---------------------------------------------------------------------------------------------

CIRCLE_MUKHTALIF: Final = "دائرة المختلف"
CIRCLE_MUTALIF: Final = "دائرة المؤتلف"
CIRCLE_MUJTALAB: Final = "دائرة المجتلب"
CIRCLE_MUSHTABIH: Final = "دائرة المشتبه"
CIRCLE_MUTTAFIQ: Final = "دائرة المتفق"


@dataclass(frozen=True, slots=True)
class Example:
    """One attested verse: both hemistichs in ``text``, joined by ``HEMISTICH_SEPARATOR``."""

    text: str
    poet: str
    source: str

    def to_json(self) -> dict[str, str]:
        return {"text": self.text, "poet": self.poet, "source": self.source}


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """One of the sixteen meters.  ``pattern`` is always derived from ``feet``."""

    position: int
    name_arabic: str
    name_english: str
    feet: str
    circle_feet: str
    majzu_only: bool
    circle: str
    description_ar: str
    description_en: str
    examples: tuple[Example, ...] = ()
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.position <= 16:
            raise ValueError(f"position out of range: {self.position}")
        # Fail at import time, not at seed time, if a foot is unknown.
        derive_pattern(self.feet)
        derive_pattern(self.circle_feet)

    @property
    def pattern(self) -> str:
        return derive_pattern(self.feet)

    @property
    def circle_pattern(self) -> str:
        return derive_pattern(self.circle_feet)

    @property
    def metadata(self) -> dict[str, object]:
        return {
            "circle_feet": self.circle_feet,
            "circle_pattern": self.circle_pattern,
            "majzu_only": self.majzu_only,
            "circle": self.circle,
            "position": self.position,
            "aliases": list(self.aliases),
        }

    @property
    def description(self) -> str:
        return f"{self.description_ar}\n{self.description_en}"

    @property
    def examples_json(self) -> list[dict[str, str]]:
        return [example.to_json() for example in self.examples]


def _verse(first: str, second: str) -> str:
    return f"{first}{HEMISTICH_SEPARATOR}{second}"


METERS: Final[tuple[MeterSpec, ...]] = (
    MeterSpec(
        position=1,
        name_arabic="الطويل",
        name_english="al-Tawil",
        feet="فعولن مفاعيلن فعولن مفاعيلن",
        circle_feet="فعولن مفاعيلن فعولن مفاعيلن",
        majzu_only=False,
        circle=CIRCLE_MUKHTALIF,
        description_ar=(
            "بحر تام لا يُستعمل مجزوءًا، وزن شطره فعولن مفاعيلن فعولن مفاعيلن، وعروضه مقبوضة "
            "(مفاعلن) وجوبًا. أكثر البحور دورانًا في الشعر العربي القديم، وعليه معلقات امرئ "
            "القيس وطرفة وزهير."
        ),
        description_en=(
            "Always used complete: fa'ulun mafa'ilun fa'ulun mafa'ilun per hemistich, the "
            "'arud (last foot of the first hemistich) always contracted by qabd to //o//o. "
            "The most frequent meter of classical Arabic poetry; the Mu'allaqat of Imru' al-Qays, "
            "Tarafa and Zuhayr are in it."
        ),
        examples=(
            Example(
                text=_verse("قفا نبك من ذكرى حبيب ومنزل", "بسقط اللوى بين الدخول فحومل"),
                poet="امرؤ القيس",
                source="المعلقة، البيت الأول",
            ),
            Example(
                text=_verse("لخولة أطلال ببرقة ثهمد", "تلوح كباقي الوشم في ظاهر اليد"),
                poet="طرفة بن العبد",
                source="المعلقة، البيت الأول",
            ),
        ),
        aliases=("Taweel", "Tawiil"),
    ),
    MeterSpec(
        position=2,
        name_arabic="المديد",
        name_english="al-Madid",
        feet="فاعلاتن فاعلن فاعلاتن",
        circle_feet="فاعلاتن فاعلن فاعلاتن فاعلن",
        majzu_only=True,
        circle=CIRCLE_MUKHTALIF,
        description_ar=(
            "لا يُستعمل إلا مجزوءًا، وزن شطره فاعلاتن فاعلن فاعلاتن، وأصله في الدائرة فاعلاتن "
            "فاعلن مرتين. قليل الاستعمال."
        ),
        description_en=(
            "Used only shortened (majzu'): fa'ilatun fa'ilun fa'ilatun per hemistich; the circle "
            "form repeats fa'ilatun fa'ilun twice. Rarely used."
        ),
        aliases=("Madeed",),
    ),
    MeterSpec(
        position=3,
        name_arabic="البسيط",
        name_english="al-Basit",
        feet="مستفعلن فاعلن مستفعلن فاعلن",
        circle_feet="مستفعلن فاعلن مستفعلن فاعلن",
        majzu_only=False,
        circle=CIRCLE_MUKHTALIF,
        description_ar=(
            "يأتي تامًا ومجزوءًا، وزن شطره التام مستفعلن فاعلن مستفعلن فاعلن، وعروضه التامة "
            "مخبونة (فعِلن) وجوبًا. من أكثر البحور استعمالًا بعد الطويل، وعليه قصيدة «بانت سعاد» "
            "لكعب بن زهير."
        ),
        description_en=(
            "Used complete and shortened: mustaf'ilun fa'ilun mustaf'ilun fa'ilun per hemistich, "
            "the 'arud of the complete form always contracted by khabn to ///o. Among the most "
            "used meters after al-Tawil; Ka'b ibn Zuhayr's Banat Su'ad is in it."
        ),
        examples=(
            Example(
                text=_verse("الخيل والليل والبيداء تعرفني", "والسيف والرمح والقرطاس والقلم"),
                poet="المتنبي",
                source="ديوان المتنبي، ميميته في عتاب سيف الدولة «واحرّ قلباه ممن قلبه شبم»",
            ),
            Example(
                text=_verse("بانت سعاد فقلبي اليوم متبول", "متيم إثرها لم يفد مكبول"),
                poet="كعب بن زهير",
                source="قصيدة «بانت سعاد» (البردة)، البيت الأول",
            ),
        ),
        aliases=("Baseet", "Basiit"),
    ),
    MeterSpec(
        position=4,
        name_arabic="الوافر",
        name_english="al-Wafir",
        feet="مفاعلتن مفاعلتن فعولن",
        circle_feet="مفاعلتن مفاعلتن مفاعلتن",
        majzu_only=False,
        circle=CIRCLE_MUTALIF,
        description_ar=(
            "وزن شطره التام في الاستعمال مفاعلتن مفاعلتن فعولن، إذ تأتي التفعيلة الثالثة مقطوفة "
            "دائمًا، وأصله في الدائرة مفاعلتن ثلاث مرات. يأتي تامًا ومجزوءًا، ويكثر فيه العصب "
            "(مفاعلْتن)، وعليه معلقة عمرو بن كلثوم."
        ),
        description_en=(
            "In use the complete hemistich is mufa'alatun mufa'alatun fa'ulun: the third foot is "
            "always shortened by qatf; the circle form is mufa'alatun three times. Used complete "
            "and shortened; 'asb (mufa'altun, //o/o/o) is very common. 'Amr ibn Kulthum's "
            "Mu'allaqa is in it."
        ),
        examples=(
            Example(
                text=_verse("ألا هبي بصحنك فاصبحينا", "ولا تبقي خمور الأندرينا"),
                poet="عمرو بن كلثوم",
                source="المعلقة، البيت الأول",
            ),
        ),
        aliases=("Waafir", "Wafer"),
    ),
    MeterSpec(
        position=5,
        name_arabic="الكامل",
        name_english="al-Kamil",
        feet="متفاعلن متفاعلن متفاعلن",
        circle_feet="متفاعلن متفاعلن متفاعلن",
        majzu_only=False,
        circle=CIRCLE_MUTALIF,
        description_ar=(
            "يأتي تامًا ومجزوءًا، وزن شطره التام متفاعلن متفاعلن متفاعلن، ويكثر فيه الإضمار "
            "(متْفاعلن). من أكثر البحور استعمالًا، وعليه معلقتا عنترة ولبيد."
        ),
        description_en=(
            "Used complete and shortened: mutafa'ilun three times per hemistich, often with "
            "idmar (mutfa'ilun, /o/o//o). Very widely used; the Mu'allaqat of 'Antara and Labid "
            "are in it."
        ),
        examples=(
            Example(
                text=_verse("هل غادر الشعراء من متردم", "أم هل عرفت الدار بعد توهم"),
                poet="عنترة بن شداد",
                source="المعلقة، البيت الأول",
            ),
            Example(
                text=_verse("عفت الديار محلها فمقامها", "بمنى تأبد غولها فرجامها"),
                poet="لبيد بن ربيعة",
                source="المعلقة، البيت الأول",
            ),
        ),
        aliases=("Kaamil", "Kamel"),
    ),
    MeterSpec(
        position=6,
        name_arabic="الهزج",
        name_english="al-Hazaj",
        feet="مفاعيلن مفاعيلن",
        circle_feet="مفاعيلن مفاعيلن مفاعيلن",
        majzu_only=True,
        circle=CIRCLE_MUJTALAB,
        description_ar=(
            "لا يُستعمل إلا مجزوءًا، وزن شطره مفاعيلن مفاعيلن، وأصله في الدائرة مفاعيلن ثلاث "
            "مرات. خفيف الإيقاع، قليل في الشعر القديم."
        ),
        description_en=(
            "Used only shortened: mafa'ilun mafa'ilun per hemistich (the circle form has three). "
            "Light and song-like; rare in early poetry."
        ),
    ),
    MeterSpec(
        position=7,
        name_arabic="الرجز",
        name_english="al-Rajaz",
        feet="مستفعلن مستفعلن مستفعلن",
        circle_feet="مستفعلن مستفعلن مستفعلن",
        majzu_only=False,
        circle=CIRCLE_MUJTALAB,
        description_ar=(
            "يأتي تامًا ومجزوءًا ومشطورًا ومنهوكًا، وزن شطره التام مستفعلن ثلاث مرات. لسهولته "
            "سُمّي «حمار الشعراء»، وعليه الأراجيز والمنظومات التعليمية كألفية ابن مالك."
        ),
        description_en=(
            "Used complete, shortened, halved (mashtur) and reduced (manhuk): mustaf'ilun three "
            "times per hemistich. Called 'the poets' donkey' for its ease; the meter of the "
            "urjuza and of didactic poems such as Ibn Malik's Alfiyya."
        ),
        examples=(
            Example(
                text=_verse("قال محمد هو ابن مالك", "أحمد ربي الله خير مالك"),
                poet="ابن مالك",
                source="الألفية (الخلاصة)، البيت الأول",
            ),
        ),
    ),
    MeterSpec(
        position=8,
        name_arabic="الرمل",
        name_english="al-Ramal",
        feet="فاعلاتن فاعلاتن فاعلاتن",
        circle_feet="فاعلاتن فاعلاتن فاعلاتن",
        majzu_only=False,
        circle=CIRCLE_MUJTALAB,
        description_ar=(
            "يأتي تامًا ومجزوءًا، أصل شطره التام فاعلاتن ثلاث مرات، وعروضه التامة محذوفة دائمًا "
            "(فاعلن). وعليه لامية ابن الوردي."
        ),
        description_en=(
            "Used complete and shortened: fa'ilatun three times per hemistich, the 'arud of the "
            "complete form always shortened by hadhf to fa'ilun (/o//o). Ibn al-Wardi's Lamiyya "
            "is in it."
        ),
        examples=(
            Example(
                text=_verse("اعتزل ذكر الأغاني والغزل", "وقل الفصل وجانب من هزل"),
                poet="ابن الوردي",
                source="اللامية (نصيحة الإخوان)، البيت الأول",
            ),
        ),
    ),
    MeterSpec(
        position=9,
        name_arabic="السريع",
        name_english="al-Sari",
        feet="مستفعلن مستفعلن فاعلن",
        circle_feet="مستفعلن مستفعلن مفعولات",
        majzu_only=False,
        circle=CIRCLE_MUSHTABIH,
        description_ar=(
            "أصل شطره في الدائرة مستفعلن مستفعلن مفعولات، ولا تأتي مفعولات في آخره سالمة، "
            "فيُستعمل على مستفعلن مستفعلن فاعلن (مفعولات مطوية مكسوفة). يأتي تامًا ومشطورًا."
        ),
        description_en=(
            "Circle form mustaf'ilun mustaf'ilun maf'ulatu; the final maf'ulatu never appears "
            "intact, so in use the hemistich is mustaf'ilun mustaf'ilun fa'ilun. Used complete "
            "and halved (mashtur)."
        ),
        aliases=("Saree", "Sarii"),
    ),
    MeterSpec(
        position=10,
        name_arabic="المنسرح",
        name_english="al-Munsarih",
        feet="مستفعلن مفعولات مستفعلن",
        circle_feet="مستفعلن مفعولات مستفعلن",
        majzu_only=False,
        circle=CIRCLE_MUSHTABIH,
        description_ar=(
            "وزن شطره مستفعلن مفعولات مستفعلن، ويكثر طيّ مفعولات (فاعلاتُ)، ويغلب أن يكون "
            "ضربه التام مطويًّا (مفتعلن). يأتي تامًا ومنهوكًا."
        ),
        description_en=(
            "mustaf'ilun maf'ulatu mustaf'ilun per hemistich; maf'ulatu usually appears with "
            "tayy (fa'ilatu, /o//o/) and the darb of the complete form is usually muftailun "
            "(/o///o). Used complete and reduced (manhuk)."
        ),
        aliases=("Munsareh",),
    ),
    MeterSpec(
        position=11,
        name_arabic="الخفيف",
        name_english="al-Khafif",
        feet="فاعلاتن مستفعلن فاعلاتن",
        circle_feet="فاعلاتن مستفعلن فاعلاتن",
        majzu_only=False,
        circle=CIRCLE_MUSHTABIH,
        description_ar=(
            "وزن شطره فاعلاتن مستفع لن فاعلاتن، ومستفع لن فيه مفروقة الوتد (كُتبت هنا متصلة "
            "«مستفعلن» لأن الحركات والسكنات واحدة). يأتي تامًا ومجزوءًا، وعليه معلقة الحارث "
            "بن حلزة."
        ),
        description_en=(
            "fa'ilatun mustaf'i lun fa'ilatun per hemistich; the middle foot has a split "
            "(mafruq) peg and is written here unsplit as mustaf'ilun, the letter pattern being "
            "the same. Used complete and shortened; al-Harith ibn Hilliza's Mu'allaqa is in it."
        ),
        examples=(
            Example(
                text=_verse("آذنتنا ببينها أسماء", "رب ثاو يمل منه الثواء"),
                poet="الحارث بن حلزة",
                source="المعلقة، البيت الأول",
            ),
            Example(
                text=_verse("غير مجد في ملتي واعتقادي", "نوح باك ولا ترنم شاد"),
                poet="أبو العلاء المعري",
                source="سقط الزند، مطلع داليته في الرثاء",
            ),
        ),
        aliases=("Khafeef",),
    ),
    MeterSpec(
        position=12,
        name_arabic="المضارع",
        name_english="al-Mudari",
        feet="مفاعيلن فاعلاتن",
        circle_feet="مفاعيلن فاعلاتن مفاعيلن",
        majzu_only=True,
        circle=CIRCLE_MUSHTABIH,
        description_ar=(
            "لا يُستعمل إلا مجزوءًا، وزن شطره مفاعيلن فاع لاتن (كُتبت الثانية هنا متصلة "
            "«فاعلاتن» لأن الحركات والسكنات واحدة). نادر في الشعر."
        ),
        description_en=(
            "Used only shortened: mafa'ilun fa'i latun per hemistich, the split-peg second foot "
            "written here unsplit as fa'ilatun (same letter pattern). Rare."
        ),
        aliases=("Mudhari", "Mudare"),
    ),
    MeterSpec(
        position=13,
        name_arabic="المقتضب",
        name_english="al-Muqtadab",
        feet="مفعولات مستفعلن",
        circle_feet="مفعولات مستفعلن مستفعلن",
        majzu_only=True,
        circle=CIRCLE_MUSHTABIH,
        description_ar=(
            "لا يُستعمل إلا مجزوءًا، وزن شطره مفعولات مستفعلن، ويغلب أن يأتي على فاعلاتُ مفتعلن. "
            "نادر في الشعر."
        ),
        description_en=(
            "Used only shortened: maf'ulatu mustaf'ilun per hemistich, usually realised as "
            "fa'ilatu muftailun (/o//o/ /o///o). Rare."
        ),
        aliases=("Muqtadhab",),
    ),
    MeterSpec(
        position=14,
        name_arabic="المجتث",
        name_english="al-Mujtathth",
        feet="مستفعلن فاعلاتن",
        circle_feet="مستفعلن فاعلاتن فاعلاتن",
        majzu_only=True,
        circle=CIRCLE_MUSHTABIH,
        description_ar=(
            "لا يُستعمل إلا مجزوءًا، وزن شطره مستفع لن فاعلاتن (كُتبت الأولى هنا متصلة "
            "«مستفعلن» لأن الحركات والسكنات واحدة)."
        ),
        description_en=(
            "Used only shortened: mustaf'i lun fa'ilatun per hemistich, the split-peg first foot "
            "written here unsplit as mustaf'ilun (same letter pattern)."
        ),
        aliases=("Mujtath",),
    ),
    MeterSpec(
        position=15,
        name_arabic="المتقارب",
        name_english="al-Mutaqarib",
        feet="فعولن فعولن فعولن فعولن",
        circle_feet="فعولن فعولن فعولن فعولن",
        majzu_only=False,
        circle=CIRCLE_MUTTAFIQ,
        description_ar=(
            "يأتي تامًا ومجزوءًا، وزن شطره التام فعولن أربع مرات. إيقاعه متتابع، وعليه قصيدة "
            "«إرادة الحياة» لأبي القاسم الشابي."
        ),
        description_en=(
            "Used complete and shortened: fa'ulun four times per hemistich. An even, running "
            "rhythm; Abu al-Qasim al-Shabbi's 'The Will to Live' is in it."
        ),
        examples=(
            Example(
                text=_verse("إذا الشعب يوما أراد الحياة", "فلا بد أن يستجيب القدر"),
                poet="أبو القاسم الشابي",
                source="قصيدة «إرادة الحياة»، ديوان أغاني الحياة",
            ),
        ),
        aliases=("Mutaqareb", "Mutakarib"),
    ),
    MeterSpec(
        position=16,
        name_arabic="المتدارك",
        name_english="al-Mutadarik",
        feet="فاعلن فاعلن فاعلن فاعلن",
        circle_feet="فاعلن فاعلن فاعلن فاعلن",
        majzu_only=False,
        circle=CIRCLE_MUTTAFIQ,
        description_ar=(
            "البحر الذي تداركه الأخفش على الخليل، وزن شطره فاعلن أربع مرات، ويكثر فيه الخبن "
            "(فعِلن) والتشعيث (فعْلن)، ويُسمّى حينئذ الخبب أو ركض الخيل."
        ),
        description_en=(
            "The meter al-Akhfash added to al-Khalil's fifteen: fa'ilun four times per "
            "hemistich; with frequent khabn (///o) and tash'ith (/o/o) it is known as al-khabab."
        ),
        examples=(
            Example(
                text=_verse("يا ليل الصب متى غده", "أقيام الساعة موعده"),
                poet="الحصري القيرواني",
                source="قصيدة «يا ليل الصب»، المطلع",
            ),
        ),
        aliases=("الخبب", "المحدث", "المخترع", "ركض الخيل", "Khabab"),
    ),
)

# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

# Characters folded or dropped by ``_fold`` beyond what ``normalize`` already does.
_FOLD_TABLE: Final = str.maketrans(
    {
        "\u06cc": "\u064a",  # Persian yeh -> ي
        "\u06a9": "\u0643",  # keheh -> ك
        "\u02bf": None,  # ʿ  (ayn in transliteration)
        "\u02be": None,  # ʾ  (hamza in transliteration)
        "\u02bb": None,  # ʻ
        "\u02bc": None,  # ʼ
        "\u2018": None,  # '
        "\u2019": None,  # '
        "'": None,
        "`": None,
    }
)

_ARABIC_ARTICLE: Final = "ال"
# Prefixes tried (only ever kept when what remains is a known key): "البحر"/"بحر" ("the meter"),
# the Arabic article, and the Latin article.  Assimilated Latin articles (at-, ar-, as-, ...)
# are handled by ``_candidates`` itself: "at-Tawil" folds to "attawil".
_PREFIXES: Final = ("البحر", "بحر", _ARABIC_ARTICLE, "bahr", "al", "el")
_LATIN_ARTICLE_RE: Final = re.compile(r"^(?:al|el)[-\s]+", re.IGNORECASE)


def _fold(text: str) -> str:
    """The platform's :func:`~app.text.arabic.normalize`, then NFKD to drop Latin accents,
    casefold, and keep letters and digits only (spaces, hyphens and quotes go)."""
    decomposed = unicodedata.normalize("NFKD", normalize(text))
    unmarked = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = unmarked.translate(_FOLD_TABLE).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _canonical_key(spelling: str) -> str:
    """Key of a spelling listed in this module: the article is removed unconditionally."""
    key = _fold(_LATIN_ARTICLE_RE.sub("", spelling.strip()))
    if key.startswith(_ARABIC_ARTICLE) and len(key) > len(_ARABIC_ARTICLE):
        key = key[len(_ARABIC_ARTICLE) :]
    return key


def _candidates(folded: str, depth: int = 0) -> Iterator[str]:
    yield folded
    if depth >= 3:
        return
    for prefix in _PREFIXES:
        if folded.startswith(prefix) and len(folded) > len(prefix):
            yield from _candidates(folded[len(prefix) :], depth + 1)
    # Assimilated Latin article: "at-Tawil" -> "attawil", "ar-Ramal" -> "arramal".
    if len(folded) > 3 and folded[0] in "ae" and folded[1] == folded[2] and folded[1].isascii():
        yield from _candidates(folded[2:], depth + 1)


def _build_keys(meters: tuple[MeterSpec, ...]) -> Mapping[str, str]:
    keys: dict[str, str] = {}
    for meter in meters:
        for spelling in (meter.name_arabic, meter.name_english, *meter.aliases):
            key = _canonical_key(spelling)
            if not key:
                raise ValueError(f"spelling {spelling!r} of {meter.name_arabic} folds to nothing")
            owner = keys.setdefault(key, meter.name_arabic)
            if owner != meter.name_arabic:
                raise ValueError(f"name key {key!r} is shared by {owner} and {meter.name_arabic}")
    return MappingProxyType(keys)


#: Every accepted name key (see :func:`name_key`) -> canonical ``name_arabic``.
METER_KEYS: Final[Mapping[str, str]] = _build_keys(METERS)

_BY_NAME: Final[Mapping[str, MeterSpec]] = MappingProxyType({m.name_arabic: m for m in METERS})


def name_key(name: str) -> str:
    """Fold any typed form of a meter name to one key.

    Arabic: harakat, tatweel and other marks are removed, أ إ آ ٱ become ا, ى becomes ي and
    ة becomes ه, and a leading ال (or "البحر"/"بحر") is removed.  Latin: accents (Ṭawīl),
    transliteration quotes (ʿ ʾ ' ’ `), spaces and hyphens are removed, case is folded, and a
    leading "al"/"el"/"bahr" or assimilated article ("at-", "ar-", "as-", ...) is removed when
    what remains is a known key.  Names that are not known fold to the marks-free string with
    any leading ال removed.
    """
    folded = _fold(name)
    for candidate in _candidates(folded):
        if candidate in METER_KEYS:
            return candidate
    if folded.startswith(_ARABIC_ARTICLE) and len(folded) > len(_ARABIC_ARTICLE):
        return folded[len(_ARABIC_ARTICLE) :]
    return folded


def lookup_name(name: str) -> str | None:
    """Canonical ``name_arabic`` for any accepted spelling of a meter, else ``None``."""
    return METER_KEYS.get(name_key(name))


def find_meter(name: str) -> MeterSpec | None:
    """The :class:`MeterSpec` for any accepted spelling of a meter, else ``None``."""
    canonical = lookup_name(name)
    return None if canonical is None else _BY_NAME[canonical]


def seed_rows() -> list[dict[str, object]]:
    """One row per meter with exactly the columns of the ``meters`` table (except ``id``)."""
    return [
        {
            "name_arabic": meter.name_arabic,
            "position": meter.position,
            "name_english": meter.name_english,
            "feet": meter.feet,
            "pattern": meter.pattern,
            "description": meter.description,
            "examples": meter.examples_json,
            "metadata": meter.metadata,
        }
        for meter in METERS
    ]
