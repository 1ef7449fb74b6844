"""Reference data for the sixteen meters: pure Python, no database."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest

from app.data import meters as m
from app.models.analysis import Meter

CANONICAL_ORDER = (
    "الطويل",
    "المديد",
    "البسيط",
    "الوافر",
    "الكامل",
    "الهزج",
    "الرجز",
    "الرمل",
    "السريع",
    "المنسرح",
    "الخفيف",
    "المضارع",
    "المقتضب",
    "المجتث",
    "المتقارب",
    "المتدارك",
)

# Textbook hemistich feet (form used in practice; split-peg feet written unsplit).
TEXTBOOK_FEET = {
    "الطويل": "فعولن مفاعيلن فعولن مفاعيلن",
    "البسيط": "مستفعلن فاعلن مستفعلن فاعلن",
    "الوافر": "مفاعلتن مفاعلتن فعولن",
    "الكامل": "متفاعلن متفاعلن متفاعلن",
    "المديد": "فاعلاتن فاعلن فاعلاتن",
    "الهزج": "مفاعيلن مفاعيلن",
    "المضارع": "مفاعيلن فاعلاتن",
    "المتقارب": "فعولن فعولن فعولن فعولن",
    "المتدارك": "فاعلن فاعلن فاعلن فاعلن",
}

MAJZU_ONLY = {"المديد", "الهزج", "المضارع", "المقتضب", "المجتث"}

TAWIL_FORMS = (
    "الطويل",
    "طويل",
    "الطَّوِيل",
    "Tawil",
    "al-Tawil",
    "tawil",
    "Ṭawīl",
    "al Tawil",
    "AL-TAWIL",
    "Taweel",
    # beyond the required list
    "ٱلطَّوِيلُ",
    "الطــويل",
    "at-Tawil",
    "el-Tawil",
    "al-Ṭawīl",
    "البحر الطويل",
    "بحر الطويل",
    "  الطويل  ",
)

PATTERN_RE = re.compile(r"[/o]+(?: [/o]+)*")
FEET_RE = re.compile(r"\S+(?: \S+)*")
HARAKAT_RE = re.compile("[\u064b-\u0652]")

SAMPLES_PATH = Path(m.__file__).with_name("sample_analyses.jsonl")
SAMPLE_KEYS = {
    "original_text",
    "pattern",
    "detected_meter",
    "confidence",
    "syllable_count",
    "processing_time_ms",
    "metadata",
    "username",
}
DEMO_USERS = {"demo_student", "demo_poet", "demo_teacher"}


def _strip_marks(text: str) -> str:
    return "".join(ch for ch in text if not unicodedata.combining(ch))


# --- feet ---------------------------------------------------------------------------------------


def test_required_foot_patterns_literally() -> None:
    assert m.FOOT_PATTERNS["فعولن"] == "//o/o"
    assert m.FOOT_PATTERNS["مفاعيلن"] == "//o/o/o"
    assert m.FOOT_PATTERNS["متفاعلن"] == "///o//o"
    assert m.FOOT_PATTERNS["مستفعلن"] == "/o/o//o"
    assert m.FOOT_PATTERNS["فاعلاتن"] == "/o//o/o"
    assert m.FOOT_PATTERNS["فاعلن"] == "/o//o"
    assert m.FOOT_PATTERNS["مفاعلتن"] == "//o///o"
    assert m.FOOT_PATTERNS["مفعولات"] == "/o/o/o/"


def test_every_foot_has_a_vocalised_spelling_of_the_same_word() -> None:
    assert set(m.FOOT_SPELLINGS) == set(m.FOOT_PATTERNS)
    for foot, spelling in m.FOOT_SPELLINGS.items():
        assert _strip_marks(spelling) == foot
        assert HARAKAT_RE.search(spelling), foot


@pytest.mark.parametrize("foot", sorted(m.FOOT_PATTERNS))
def test_foot_pattern_matches_its_letters(foot: str) -> None:
    spelling = m.FOOT_SPELLINGS[foot]
    scanned = m.foot_pattern_from_letters(spelling)
    assert scanned == m.FOOT_PATTERNS[foot]
    # one symbol per written letter
    assert len(scanned) == len(foot)


def test_every_foot_is_used_by_some_meter() -> None:
    used = {foot for meter in m.METERS for foot in meter.circle_feet.split() + meter.feet.split()}
    assert used == set(m.FOOT_PATTERNS)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("فَعُولُنْ", "//o/o"),
        ("مُسْتَفْعِلُنْ", "/o/o//o"),
        ("مُحَمَّدٌ", "//o//o"),  # shadda = still + moving, tanwin = moving + still
        ("قِفَا نَبْكِ", "//o/o/"),  # spaces are ignored
        ("فَـعُـولُنْ", "//o/o"),  # tatweel is ignored
    ],
)
def test_foot_pattern_from_letters_rules(spelling: str, expected: str) -> None:
    assert m.foot_pattern_from_letters(spelling) == expected


@pytest.mark.parametrize("bad", ["فعولن", "فَعُولُن", "", "فَْ", "\u064eف", "فّ"])
def test_foot_pattern_from_letters_rejects_incomplete_spellings(bad: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        m.foot_pattern_from_letters(bad)


def test_derive_pattern_joins_with_one_space() -> None:
    assert m.derive_pattern("فعولن مفاعيلن") == "//o/o //o/o/o"
    assert m.derive_pattern("  فعولن \t مفاعيلن\n") == "//o/o //o/o/o"


def test_derive_pattern_names_unknown_foot() -> None:
    with pytest.raises(ValueError, match="مفاعلن"):
        m.derive_pattern("فعولن مفاعلن")
    with pytest.raises(ValueError, match="no feet"):
        m.derive_pattern("   ")


# --- meters -------------------------------------------------------------------------------------


def test_sixteen_meters_in_canonical_order() -> None:
    assert len(m.METERS) == 16
    assert tuple(meter.name_arabic for meter in m.METERS) == CANONICAL_ORDER
    assert [meter.position for meter in m.METERS] == list(range(1, 17))


def test_names_are_unique_and_well_formed() -> None:
    arabic = [meter.name_arabic for meter in m.METERS]
    english = [meter.name_english for meter in m.METERS]
    assert len(set(arabic)) == 16
    assert len({name.casefold() for name in english}) == 16
    for meter in m.METERS:
        assert meter.name_arabic.startswith("ال")
        assert meter.name_english.isascii()
        assert re.fullmatch(r"al-[A-Z][a-z]+", meter.name_english), meter.name_english


@pytest.mark.parametrize("meter", m.METERS, ids=lambda meter: meter.name_english)
def test_pattern_is_derived_from_feet(meter: m.MeterSpec) -> None:
    assert FEET_RE.fullmatch(meter.feet)
    assert FEET_RE.fullmatch(meter.circle_feet)
    assert meter.pattern == m.derive_pattern(meter.feet)
    assert PATTERN_RE.fullmatch(meter.pattern)
    assert set(meter.pattern) <= {"/", "o", " "}
    assert meter.pattern.count(" ") == meter.feet.count(" ")
    assert meter.metadata["circle_pattern"] == m.derive_pattern(meter.circle_feet)
    assert PATTERN_RE.fullmatch(str(meter.metadata["circle_pattern"]))


@pytest.mark.parametrize(("name", "feet"), sorted(TEXTBOOK_FEET.items()))
def test_textbook_feet(name: str, feet: str) -> None:
    meter = m.find_meter(name)
    assert meter is not None
    assert meter.feet == feet


def test_known_patterns_literally() -> None:
    by_name = {meter.name_arabic: meter for meter in m.METERS}
    assert by_name["الطويل"].pattern == "//o/o //o/o/o //o/o //o/o/o"
    assert by_name["الكامل"].pattern == "///o//o ///o//o ///o//o"
    assert by_name["الوافر"].pattern == "//o///o //o///o //o/o"


def test_majzu_only_meters_drop_feet_of_the_circle_form() -> None:
    for meter in m.METERS:
        assert meter.majzu_only == (meter.name_arabic in MAJZU_ONLY)
        used, circle = meter.feet.split(), meter.circle_feet.split()
        if meter.majzu_only:
            assert len(used) == len(circle) - 1
            assert used == circle[: len(used)]
        else:
            assert len(used) == len(circle)


def test_circles_group_rotations_of_one_sequence() -> None:
    """Al-Khalil's circles: every meter of a circle reads the same letter cycle from another
    starting point, so the circle patterns must be rotations of each other."""
    circles: dict[str, list[m.MeterSpec]] = defaultdict(list)
    for meter in m.METERS:
        circles[meter.circle].append(meter)
    assert {name: len(members) for name, members in circles.items()} == {
        "دائرة المختلف": 3,
        "دائرة المؤتلف": 2,
        "دائرة المجتلب": 3,
        "دائرة المشتبه": 6,
        "دائرة المتفق": 2,
    }
    for members in circles.values():
        first = members[0].circle_pattern.replace(" ", "")
        for meter in members:
            cycle = meter.circle_pattern.replace(" ", "")
            assert len(cycle) == len(first), meter.name_arabic
            assert cycle in first + first, meter.name_arabic


def test_metadata_and_description_shape() -> None:
    for meter in m.METERS:
        meta = meter.metadata
        assert set(meta) == {
            "circle_feet",
            "circle_pattern",
            "majzu_only",
            "circle",
            "position",
            "aliases",
        }
        assert json.loads(json.dumps(meta, ensure_ascii=False)) == meta
        assert meta["aliases"] == list(meter.aliases)
        ar, en = meter.description.split("\n")
        assert ar == meter.description_ar
        assert en == meter.description_en
        assert re.search("[\u0621-\u064a]", ar)
        assert en.isascii()


def test_examples_are_complete_verses() -> None:
    for meter in m.METERS:
        for example in meter.examples:
            assert example.text.strip()
            assert example.poet.strip()
            assert example.source.strip()
            first, second = example.text.split(m.HEMISTICH_SEPARATOR)
            assert first.strip() == first
            assert second.strip() == second
            assert first
            assert second
        assert meter.examples_json == [
            {"text": e.text, "poet": e.poet, "source": e.source} for e in meter.examples
        ]


def test_common_meters_have_examples() -> None:
    with_examples = {meter.name_arabic for meter in m.METERS if meter.examples}
    assert {"الطويل", "البسيط", "الوافر", "الكامل", "الخفيف", "المتقارب"} <= with_examples
    assert {"الرمل", "الرجز"} <= with_examples
    assert any(
        example.text.startswith("قفا نبك من ذكرى حبيب ومنزل") for example in m.METERS[0].examples
    )


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", TAWIL_FORMS)
def test_tawil_forms_resolve(form: str) -> None:
    assert m.lookup_name(form) == "الطويل"
    assert m.name_key(form) in {"طويل", "tawil", "taweel"}


def test_first_nine_tawil_forms_share_one_key_per_script_without_aliases() -> None:
    arabic = {m.name_key(form) for form in TAWIL_FORMS[:3]}
    latin = {m.name_key(form) for form in TAWIL_FORMS[3:9]}
    assert arabic == {"طويل"}
    assert latin == {"tawil"}
    assert "Taweel" in m.METERS[0].aliases


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("المُتَدَارَك", "المتدارك"),
        ("الخبب", "المتدارك"),
        ("ar-Ramal", "الرمل"),
        ("as-Sarīʿ", "السريع"),
        ("al-Mudāriʿ", "المضارع"),
        ("al-Sari'", "السريع"),
        ("Mujtath", "المجتث"),
        ("الوافِر", "الوافر"),
        ("الكامِلُ", "الكامل"),
    ],
)
def test_other_forms_resolve(form: str, expected: str) -> None:
    assert m.lookup_name(form) == expected


@pytest.mark.parametrize(
    "unknown", ["", "   ", "xyz", "ال", "al", "البحر", "بحر", "الطويلة", "Tawilx"]
)
def test_unknown_names_return_none(unknown: str) -> None:
    assert m.lookup_name(unknown) is None
    assert m.find_meter(unknown) is None


def test_every_listed_spelling_resolves_to_its_meter_without_collisions() -> None:
    owners: dict[str, str] = {}
    for meter in m.METERS:
        for spelling in (meter.name_arabic, meter.name_english, *meter.aliases):
            key = m.name_key(spelling)
            assert key
            assert owners.setdefault(key, meter.name_arabic) == meter.name_arabic, spelling
            assert m.lookup_name(spelling) == meter.name_arabic
    assert owners == dict(m.METER_KEYS)
    assert set(m.METER_KEYS.values()) == set(CANONICAL_ORDER)


# --- seed rows ----------------------------------------------------------------------------------


def test_seed_rows_have_exactly_the_db_columns() -> None:
    rows = m.seed_rows()
    assert len(rows) == 16
    for row, meter in zip(rows, m.METERS, strict=True):
        assert set(row) == {c.name for c in Meter.__table__.columns} - {"id"}
        assert row["name_arabic"] == meter.name_arabic
        assert row["pattern"] == m.derive_pattern(str(row["feet"]))
        assert isinstance(row["examples"], list)
        assert isinstance(row["metadata"], dict)
        assert json.loads(json.dumps(row, ensure_ascii=False)) == row
    # rows are fresh copies: mutating one does not leak into the next call
    first_meta = rows[0]["metadata"]
    assert isinstance(first_meta, dict)
    first_meta["aliases"].append("mutated")
    fresh_meta = m.seed_rows()[0]["metadata"]
    assert isinstance(fresh_meta, dict)
    assert "mutated" not in fresh_meta["aliases"]


# --- sample analyses ----------------------------------------------------------------------------


def _samples() -> list[dict[str, object]]:
    lines = SAMPLES_PATH.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_sample_analyses_parse_and_match_meter_patterns() -> None:
    raw = SAMPLES_PATH.read_text(encoding="utf-8")
    assert raw.endswith("\n")
    assert "\\u06" not in raw  # written with ensure_ascii=False
    samples = _samples()
    assert 8 <= len(samples) <= 16
    for sample in samples:
        assert set(sample) == SAMPLE_KEYS
        meter = m.find_meter(str(sample["detected_meter"]))
        assert meter is not None
        assert sample["detected_meter"] == meter.name_arabic
        assert sample["pattern"] == meter.pattern
        assert sample["confidence"] is None
        assert sample["syllable_count"] is None
        assert sample["processing_time_ms"] is None
        assert sample["username"] in DEMO_USERS
        meta = sample["metadata"]
        assert isinstance(meta, dict)
        assert meta["reference_values"] is True
        assert str(meta["poet"]).strip()
        assert str(meta["source"]).strip()
        assert "not a scan" in str(meta["pattern_source"])
        text = str(sample["original_text"])
        assert len(text.split(m.HEMISTICH_SEPARATOR)) == 2


def test_sample_analyses_coverage() -> None:
    samples = _samples()
    texts = [str(sample["original_text"]) for sample in samples]
    assert len({sample["detected_meter"] for sample in samples}) >= 6
    assert {sample["username"] for sample in samples} == DEMO_USERS
    assert len(set(texts)) == len(texts)
    vocalised = [text for text in texts if HARAKAT_RE.search(text)]
    assert 2 * len(vocalised) >= len(texts)
    assert len(vocalised) < len(texts)  # some are bare
    assert any(re.search("[أإآ]", text) for text in vocalised)
    bare = [_strip_marks(text) for text in texts]
    assert sum("ليل" in text for text in bare) >= 2
    assert sum("الدار" in text or "الديار" in text for text in bare) >= 2
