"""Unit tests for app.text.arabic (pure Python, no database)."""

from __future__ import annotations

import html
import unicodedata

import pytest

from app.text.arabic import (
    ARABIC_LETTER_RE,
    HEADLINE_OPTIONS,
    HEADLINE_START,
    HEADLINE_STOP,
    align_words,
    contains_arabic,
    highlight,
    highlight_from_headline,
    normalize,
)

# Classical verses, fully vocalised, with the expected normalised form.
IMRU_VOC = "قِفا نَبْكِ مِنْ ذِكْرى حَبيبٍ وَمَنْزِلِ بِسِقْطِ اللِّوى بَيْنَ الدَّخولِ فَحَوْمَلِ"
IMRU_BARE = "قفا نبك من ذكري حبيب ومنزل بسقط اللوي بين الدخول فحومل"
ABU_VOC = "أَلا لَيتَ الشَبابَ يَعودُ يَوماً فَأُخبِرَهُ بِما فَعَلَ المَشيبُ"
ABU_BARE = "الا ليت الشباب يعود يوما فاخبره بما فعل المشيب"
MUT_VOC = "الخَيْلُ وَاللّيْلُ وَالبَيْداءُ تَعرِفُني وَالسّيفُ وَالرّمحُ وَالقرْطاسُ وَالقَلَمُ"
MUT_BARE = "الخيل والليل والبيداء تعرفني والسيف والرمح والقرطاس والقلم"
MUT2_VOC = "عَلى قَدرِ أَهلِ العَزمِ تَأتي العَزائِمُ وَتَأتي عَلى قَدرِ الكِرامِ المَكارِمُ"
MUT2_BARE = "علي قدر اهل العزم تاتي العزائم وتاتي علي قدر الكرام المكارم"
BASMALA = "بِسْمِ ٱللَّهِ ٱلرَّحْمَٰنِ ٱلرَّحِيمِ"
BASMALA_BARE = "بسم الله الرحمن الرحيم"

VERSES = [
    (IMRU_VOC, IMRU_BARE),
    (ABU_VOC, ABU_BARE),
    (MUT_VOC, MUT_BARE),
    (MUT2_VOC, MUT2_BARE),
    (BASMALA, BASMALA_BARE),
]

CORPUS = [
    *(v for pair in VERSES for v in pair),
    "قِفا نَبْكِ ... بِسِقْطِ اللِّوى\nبَيْنَ الدَّخولِ",
    "ﻻ ﺍﻟﺴﻴﻒ ﷲ ﷺ ﹰ ﺳﹶﻴﹾﻒ",
    "ذَٰلِكَ ٱلْكِتَٰبُ لَا رَيْبَ ۛ فِيهِ ۛ",
    "\u200fالسـيـف\u200f  ٣١٢ ۴۵ \u00a0 Abc DEF",
    "و\u0654 ا\u0653 ي\u0654 ا\u0655",
    "Imru' al-Qais (500–540), ﬁne",
    "",
    "   ",
]


# --- the verses ---------------------------------------------------------------------------


@pytest.mark.parametrize(("vocalised", "bare"), VERSES)
def test_vocalised_verse_normalises_to_bare_form(vocalised: str, bare: str) -> None:
    assert normalize(vocalised) == bare


@pytest.mark.parametrize(("vocalised", "bare"), VERSES)
def test_bare_verse_is_a_fixed_point(vocalised: str, bare: str) -> None:
    assert normalize(bare) == bare
    assert normalize(vocalised) == normalize(bare)


@pytest.mark.parametrize("text", CORPUS)
def test_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


# --- NFKC -----------------------------------------------------------------------------------


def test_nfkc_lam_alef_ligatures_become_base_letters() -> None:
    assert normalize("\ufefb") == "لا"  # ﻻ
    assert normalize("\ufef7") == "لا"  # ﻷ -> لأ -> لا
    assert normalize("\ufef5") == "لا"  # ﻵ -> لآ -> لا
    assert normalize("\ufef9\ufefc") == "لالا"  # ﻹ (isolated) + ﻼ (final)


def test_nfkc_presentation_forms_become_base_letters() -> None:
    # ﺍﻟﺴﻴﻒ written with contextual presentation forms
    assert normalize("\ufe8d\ufedf\ufeb4\ufef4\ufed2") == "السيف"
    assert normalize("\ufdf2") == "الله"  # ﷲ
    assert normalize("\ufdfa") == "صلي الله عليه وسلم"  # ﷺ expands to four words


def test_nfkc_applies_to_latin_compatibility_forms() -> None:
    assert normalize("ＡＢＣ ﬁ") == "ABC fi"


@pytest.mark.parametrize(
    "isolated",
    [chr(cp) for cp in (0xFE70, 0xFE72, 0xFE74, 0xFE76, 0xFE78, 0xFE7A, 0xFE7C, 0xFE7E)]
    + [chr(cp) for cp in range(0xFC5E, 0xFC64)],
)
def test_isolated_haraka_forms_do_not_become_word_breaks(isolated: str) -> None:
    # NFKC alone would give SPACE + mark here.
    assert unicodedata.normalize("NFKC", isolated).startswith(" ")
    assert normalize(f"س{isolated}يف") == "سيف"
    assert normalize(f"سيف {isolated} رمح") == "سيف رمح"


def test_tatweel_haraka_forms_are_removed() -> None:
    assert normalize("س\ufe77يف\ufe71") == "سيف"  # tatweel+fatha, tatweel+fathatan


def test_decomposed_hamza_and_madda_fold_like_precomposed() -> None:
    assert normalize("و\u0654") == normalize("ؤ") == "ؤ"
    assert normalize("ي\u0654") == normalize("ئ") == "ئ"
    assert normalize("ا\u0654") == normalize("أ") == "ا"
    assert normalize("ا\u0655") == normalize("إ") == "ا"
    assert normalize("ا\u0653") == normalize("آ") == "ا"


# --- marks and tatweel --------------------------------------------------------------------


@pytest.mark.parametrize(
    "mark",
    [chr(cp) for cp in range(0x064B, 0x0660)]
    + ["\u0670"]
    + [chr(cp) for cp in range(0x0610, 0x061B)]
    + [chr(cp) for cp in range(0x06D6, 0x06EE)],
)
def test_every_listed_arabic_mark_is_removed(mark: str) -> None:
    assert normalize(f"قلم{mark}") == "قلم"
    assert normalize(f"ق{mark}لم") == "قلم"


def test_harakat_shadda_sukun_tanwin_dagger_alef_removed() -> None:
    assert normalize("مُحَمَّدٌ") == "محمد"
    assert normalize("كِتَابًا") == "كتابا"
    assert normalize("هَٰذَا") == "هذا"


def test_quranic_annotation_marks_removed_and_space_collapsed() -> None:
    # U+0670 (dagger alef) is removed, not turned into ا: right for هٰذا/ذٰلك/لٰكن/الرحمٰن, whose
    # usual spelling has no alef; Uthmani-only spellings such as ٱلْكِتَٰبُ become الكتب.
    assert normalize("ذَٰلِكَ ٱلْكِتَٰبُ لَا رَيْبَ ۛ فِيهِ ۛ") == "ذلك الكتب لا ريب فيه"


def test_tatweel_removed() -> None:
    assert normalize("السـيـف") == "السيف"
    assert normalize("جـــمـــيـــل") == "جميل"
    assert normalize("ـ") == ""


# --- letter folding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "folded"), [("أحمد", "احمد"), ("إلى", "الي"), ("آمال", "امال"), ("ٱلسيف", "السيف")]
)
def test_alef_forms_unified(variant: str, folded: str) -> None:
    assert normalize(variant) == folded


def test_alef_maqsura_to_yaa() -> None:
    assert normalize("ذكرى") == "ذكري"
    assert normalize("ذِكْرى") == normalize("ذكري")
    assert normalize("ليلى") == "ليلي"


def test_taa_marbuta_to_haa() -> None:
    assert normalize("مدرسة") == "مدرسه"
    assert normalize("الأَحِبَّةُ") == "الاحبه"


def test_hamza_on_waw_and_yaa_is_kept() -> None:
    assert normalize("سُؤال وَبِئْر") == "سؤال وبئر"


# --- invisible characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "control",
    [chr(cp) for cp in range(0x200B, 0x2010)]
    + [chr(cp) for cp in range(0x202A, 0x202F)]
    + [chr(cp) for cp in range(0x2066, 0x206A)]
    + ["\ufeff", "\u061c", "\u2060"],
)
def test_zero_width_and_bidi_controls_removed(control: str) -> None:
    assert normalize(f"{control}سيف{control} رمح{control}") == "سيف رمح"
    assert normalize(f"ab{control}cd") == "abcd"


# --- whitespace ---------------------------------------------------------------------------------


def test_whitespace_collapsed_and_stripped() -> None:
    text = " \t قفا\u00a0\u00a0نبك\nمن\r\n\u2003ذكرى\u3000حبيب\u2028ومنزل \u202f "
    assert normalize(text) == "قفا نبك من ذكري حبيب ومنزل"
    assert normalize("  a \t\n b  ") == "a b"
    assert normalize("") == ""
    assert normalize(" \n\t\u00a0") == ""


# --- digits and Latin -------------------------------------------------------------------------


def test_arabic_indic_digits_to_ascii() -> None:
    assert normalize("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert normalize("البيت ١٢") == "البيت 12"


def test_extended_arabic_indic_digits_to_ascii() -> None:
    assert normalize("۰۱۲۳۴۵۶۷۸۹") == "0123456789"


@pytest.mark.parametrize(
    "latin",
    ["Imru' al-Qais", "The Mu'allaqat (c. 540 AD)", "ÉCOLE Ñandú", "Bahr al-Tawil: fa'ulun"],
)
def test_latin_left_intact(latin: str) -> None:
    assert normalize(latin) == latin


def test_mixed_arabic_and_latin() -> None:
    assert normalize("بَحْرُ الطَّويلِ (al-Ṭawīl)") == "بحر الطويل (al-Ṭawīl)"


# --- contains_arabic -----------------------------------------------------------------------


@pytest.mark.parametrize("text", [IMRU_VOC, "x ب y", "\ufefb", "ٱ", "ی", "ڤ"])
def test_contains_arabic_true(text: str) -> None:
    assert contains_arabic(text)
    assert ARABIC_LETTER_RE.search(text)


@pytest.mark.parametrize("text", ["", "Tawil", "١٢٣", "\u064e\u0651", "ـــ", "، ؛ ؟", "۴"])
def test_contains_arabic_false(text: str) -> None:
    assert not contains_arabic(text)


# --- alignment and highlighting ------------------------------------------------------------


@pytest.mark.parametrize("text", CORPUS)
def test_align_words_rejoins_to_normalize(text: str) -> None:
    assert " ".join(norm for _, norm in align_words(text) if norm) == normalize(text)


def test_align_words_pairs_tokens() -> None:
    assert align_words("وَاللّيْلُ ـ ﷲ") == [("وَاللّيْلُ", "والليل"), ("ـ", ""), ("ﷲ", "الله")]


def test_highlight_by_normalised_words_keeps_harakat_whitespace_and_punctuation() -> None:
    original = "«قِفا نَبْكِ»،  مِنْ\nذِكْرى"
    assert highlight(original, {"ذكري", "قفا"}) == "«<mark>قِفا</mark> نَبْكِ»،  مِنْ\n<mark>ذِكْرى</mark>"
    assert highlight(original, {"ذكرى"}, "[", "]") == "«قِفا نَبْكِ»،  مِنْ\n[ذِكْرى]"


def test_highlight_escapes_when_asked() -> None:
    assert highlight("<b> سيف", {"سيف"}, escape=html.escape) == "&lt;b&gt; <mark>سيف</mark>"


# Real output of PostgreSQL 15.18:
#   ts_headline('arabic', bahr_search_fold(normalize(verse)),
#               websearch_to_tsquery('arabic', bahr_search_fold(normalize(q))), HEADLINE_OPTIONS)
MUT_HALVES = "الخَيْلُ وَاللّيْلُ وَالبَيْداءُ تَعرِفُني ... وَالسّيفُ وَالرّمحُ وَالقرْطاسُ وَالقَلَمُ"
# q: الليل والقلم
MUT_HEADLINE = "خيل \ue000ليل\ue001 بيداء تعرفني ... سيف رمح قرطاس \ue000قلم\ue001"
IMRU_HALVES = "قِفا نَبْكِ مِنْ ذِكْرى حَبيبٍ وَمَنْزِلِ ... بِسِقْطِ اللِّوى بَيْنَ الدَّخولِ فَحَوْمَلِ"
IMRU_HEADLINE = (  # q: ذكرى اللوى منزل
    "قفا نبك من \ue000ذكري\ue001 حبيب \ue000ومنزل\ue001 ... بسقط \ue000لوي\ue001 بين دخول فحومل"
)


def test_headline_options_use_the_markers() -> None:
    assert "HighlightAll=true" in HEADLINE_OPTIONS
    assert HEADLINE_START in HEADLINE_OPTIONS
    assert HEADLINE_STOP in HEADLINE_OPTIONS
    assert normalize(HEADLINE_START + HEADLINE_STOP) == HEADLINE_START + HEADLINE_STOP


def test_highlight_from_headline_maps_folded_words_back_to_vocalised_original() -> None:
    assert highlight_from_headline(MUT_HALVES, MUT_HEADLINE) == (
        "الخَيْلُ <mark>وَاللّيْلُ</mark> وَالبَيْداءُ تَعرِفُني ... وَالسّيفُ وَالرّمحُ وَالقرْطاسُ <mark>وَالقَلَمُ</mark>"
    )
    assert highlight_from_headline(IMRU_HALVES, IMRU_HEADLINE) == (
        "قِفا نَبْكِ مِنْ <mark>ذِكْرى</mark> حَبيبٍ <mark>وَمَنْزِلِ</mark> ... "
        "بِسِقْطِ <mark>اللِّوى</mark> بَيْنَ الدَّخولِ فَحَوْمَلِ"
    )


def test_highlight_from_headline_custom_markers_and_empty_tokens() -> None:
    original = "ـ وَاللّيْلُ\nﹰ ﷺ"
    headline = "[ليل] صلي الله [عليه] وسلم"
    assert (
        highlight_from_headline(original, headline, "<b>", "</b>", start_sel="[", stop_sel="]")
        == "ـ <b>وَاللّيْلُ</b>\nﹰ <b>ﷺ</b>"
    )


def test_highlight_from_headline_rejects_misaligned_headline() -> None:
    with pytest.raises(ValueError, match="HighlightAll"):
        highlight_from_headline(IMRU_HALVES, "\ue000ذكري\ue001 حبيب")
