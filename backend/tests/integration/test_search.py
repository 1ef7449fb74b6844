"""Arabic search against PostgreSQL, with real classical verses, vocalised and bare."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.repositories.analysis_repository import AnalysisRepository
from tests.factories import make_user

# Imru' al-Qays (al-Tawil), fully vocalised; al-Mutanabbi (al-Basit), vocalised and bare;
# Abu Sakhr al-Hudhali / Majnun (al-Tawil) with hamza forms; a tatweel-stretched line.
IMRU = "قِفا نَبْكِ مِنْ ذِكْرى حَبيبٍ وَمَنْزِلِ ... بِسِقْطِ اللِّوى بَيْنَ الدَّخولِ فَحَوْمَلِ"
MUTANABBI = "الخَيْلُ وَاللّيْلُ وَالبَيْداءُ تَعرِفُني ... وَالسّيفُ وَالرّمحُ وَالقرْطاسُ وَالقَلَمُ"
MUTANABBI_BARE = "أنا الذي نظر الأعمى إلى أدبي ... وأسمعت كلماتي من به صمم"
ABU_ATAHIYA = "أَلا لَيتَ الشَبابَ يَعودُ يَوماً ... فَأُخبِرَهُ بِما فَعَلَ المَشيبُ"
TATWEEL = "يا لـيـل الصـب مـتى غـده ... أقيام الساعة موعـده"
MADRASA = "إِذا الشَعبُ يَوماً أَرادَ الحَياةَ ... فَلا بُدَّ أَن يَستَجيبَ القَدَر"

VERSES = {
    "imru": (IMRU, "الطويل"),
    "mutanabbi": (MUTANABBI, "البسيط"),
    "mutanabbi_bare": (MUTANABBI_BARE, "البسيط"),
    "abu_atahiya": (ABU_ATAHIYA, "الوافر"),
    "tatweel": (TATWEEL, "المتدارك"),
    "shabbi": (MADRASA, "المتقارب"),
}


@pytest.fixture
def corpus(db: Session) -> dict[str, uuid.UUID]:
    repo = AnalysisRepository(db)
    owner = make_user(db)
    ids = {}
    for key, (verse, meter) in VERSES.items():
        user_id = owner.id if key == "imru" else None
        ids[key] = repo.create(
            {"original_text": verse, "pattern": "//o/o", "detected_meter": meter},
            user_id=user_id,
        ).id
    ids["owner"] = owner.id  # type: ignore[assignment]
    return ids


def found(db: Session, query: str, **kw: object) -> set[uuid.UUID]:
    return {hit.analysis.id for hit in AnalysisRepository(db).search(query, **kw)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "key"),
    [
        # harakat on the stored side, bare query; and vocalised query on bare text
        ("حبيب", "imru"),
        ("وَأَسْمَعْتُ", "mutanabbi_bare"),
        # hamza forms of alef, either side
        ("الا ليت", "abu_atahiya"),
        ("أعمى", "mutanabbi_bare"),
        ("الى", "mutanabbi_bare"),
        ("ادبي", "mutanabbi_bare"),
        ("آلشباب", "abu_atahiya"),
        # tatweel, either side
        ("ليل الصب", "tatweel"),
        ("موعــــده", "tatweel"),
        # ى / ي, either side
        ("ذكري", "imru"),
        ("اللوي", "imru"),
        ("الذى", "mutanabbi_bare"),
        # ة / ه, either side
        ("الساعه", "tatweel"),
        ("حياة", "shabbi"),
        # the article and و / ب / وال / فال prefixes, either side
        ("منزل", "imru"),
        ("المنزل", "imru"),
        ("سقط", "imru"),
        ("ليل", "mutanabbi"),
        ("الليل", "mutanabbi"),
        ("بالسيف", "mutanabbi"),
        ("والقلم", "mutanabbi"),
        ("فالخيل", "mutanabbi"),
        ("الشعب", "shabbi"),
        ("شعب", "shabbi"),
        ("صمم", "mutanabbi_bare"),
    ],
)
def test_word_search_matches_across_variants(
    db: Session, corpus: dict[str, uuid.UUID], query: str, key: str
) -> None:
    assert corpus[key] in found(db, query)


def test_search_does_not_match_unrelated_verses(db: Session, corpus: dict[str, uuid.UUID]) -> None:
    assert found(db, "حبيب") == {corpus["imru"]}
    assert found(db, "طائرة") == set()


def test_web_search_syntax(db: Session, corpus: dict[str, uuid.UUID]) -> None:
    assert found(db, '"الخيل والليل"') == {corpus["mutanabbi"]}
    assert found(db, '"الليل الخيل"') == set()
    assert found(db, "حبيب or الشباب") == {corpus["imru"], corpus["abu_atahiya"]}
    assert corpus["mutanabbi"] not in found(db, "يوما -الشعب")
    assert found(db, "يوما -الشعب") == {corpus["abu_atahiya"]}


def test_results_are_ranked(db: Session, corpus: dict[str, uuid.UUID]) -> None:
    hits = AnalysisRepository(db).search("الليل or الخيل or السيف")
    assert hits[0].analysis.id == corpus["mutanabbi"]
    assert all(isinstance(h.rank, float) for h in hits)
    assert [h.rank for h in hits] == sorted((h.rank for h in hits), reverse=True)


@pytest.mark.parametrize(
    ("query", "marked"),
    [
        ("ليل", "«وَاللّيْلُ»"),
        ("والليل", "«وَاللّيْلُ»"),
        ("السيف", "«وَالسّيفُ»"),
        ("سَيْف", "«وَالسّيفُ»"),
        ("قلم", "«وَالقَلَمُ»"),
        ("الخيل", "«الخَيْلُ»"),
    ],
)
def test_headline_marks_the_match_on_the_vocalised_original(
    db: Session, corpus: dict[str, uuid.UUID], query: str, marked: str
) -> None:
    hit = next(
        h for h in AnalysisRepository(db).search(query) if h.analysis.id == corpus["mutanabbi"]
    )
    assert marked in hit.headline
    assert hit.headline.replace("«", "").replace("»", "") == MUTANABBI


@pytest.mark.parametrize(
    ("query", "marked"), [("ذكري", "«ذِكْرى»"), ("اللوى", "«اللِّوى»"), ("منزل", "«وَمَنْزِلِ»")]
)
def test_headline_marks_words_the_raw_stemmer_would_miss(
    db: Session, corpus: dict[str, uuid.UUID], query: str, marked: str
) -> None:
    hit = AnalysisRepository(db).search(query)[0]
    assert hit.analysis.id == corpus["imru"]
    assert marked in hit.headline


def test_filters_by_user_and_by_meter_in_any_name_form(
    db: Session, corpus: dict[str, uuid.UUID]
) -> None:
    owner = corpus["owner"]
    assert found(db, "حبيب", user_id=owner) == {corpus["imru"]}  # type: ignore[arg-type]
    assert found(db, "الليل", user_id=owner) == set()  # type: ignore[arg-type]
    assert found(db, "الخيل or يوما", meter="Basit") == {corpus["mutanabbi"]}
    assert found(db, "الخيل or يوما", meter="الوافر") == {corpus["abu_atahiya"]}
    assert found(db, "الخيل or يوما", meter="al-Wāfir") == {corpus["abu_atahiya"]}
    with pytest.raises(InvalidInput) as info:
        found(db, "الخيل", meter="no such meter")
    assert info.value.field == "meter"


@pytest.mark.parametrize("query", ["", "   ", "\u200f\u200b", "ـــ", "\u064e\u064f"])
def test_empty_queries_are_invalid_input(db: Session, query: str) -> None:
    with pytest.raises(InvalidInput) as info:
        AnalysisRepository(db).search(query)
    assert info.value.field == "query"


@pytest.mark.parametrize(
    "query",
    ["'; DROP TABLE analyses; --", '" OR 1=1 --', "!!! & | :*", "ليل' OR 'x'='x", "\\", "%_"],
)
def test_any_query_string_is_safe(db: Session, corpus: dict[str, uuid.UUID], query: str) -> None:
    repo = AnalysisRepository(db)
    repo.search(query)
    assert repo.count() == len(VERSES)
    assert db.execute(text("SELECT to_regclass('analyses') IS NOT NULL")).scalar_one()


def test_fragment_search_finds_a_half_remembered_fragment(
    db: Session, corpus: dict[str, uuid.UUID]
) -> None:
    repo = AnalysisRepository(db)
    hits = repo.search_fragment("بسقط اللوى بين الدخو")
    assert hits[0].analysis.id == corpus["imru"]
    assert "«بِسِقْطِ»" in hits[0].headline
    # A misspelt fragment still finds it (fuzzy), and substrings inside words too.
    assert repo.search_fragment("الشبب يعود يوما")[0].analysis.id == corpus["abu_atahiya"]
    assert repo.search_fragment("قرطا")[0].analysis.id == corpus["mutanabbi"]
    assert repo.search_fragment("صاروخ فضائي") == []
    with pytest.raises(InvalidInput):
        repo.search_fragment("قف")
    assert repo.search_fragment("%%%") == []


def test_planner_uses_the_indexes_on_a_large_table(owner_db: Session) -> None:
    db = owner_db  # ANALYZE and the GIN clean-up are the owner's (autovacuum's) work
    user = make_user(db)
    db.execute(
        text(
            "INSERT INTO analyses (user_id, original_text, normalized_text, pattern, created_at) "
            "SELECT CASE WHEN g % 50 = 0 THEN :u END, 'بيت ' || g, "
            "'كلمه' || (g % 997) || ' قصيده' || (g % 89) || ' بيت' || g, '//o/o', "
            "now() - g * interval '1 minute' FROM generate_series(1, 30000) g"
        ),
        {"u": user.id},
    )
    # What autovacuum does in production: move the GIN pending lists into the indexes.
    for index in ("ix_analyses_search_vector", "ix_analyses_normalized_text_trgm"):
        db.execute(text(f"SELECT gin_clean_pending_list('{index}'::regclass)"))
    db.execute(text("ANALYZE analyses"))
    search_plan = "\n".join(
        db.execute(
            text(
                "EXPLAIN SELECT id FROM analyses WHERE search_vector @@ "
                "websearch_to_tsquery('arabic', bahr_search_fold('كلمه7'))"
            )
        ).scalars()
    )
    # The RUM index where the rum extension is installed (roles setup creates it), else GIN.
    assert "ix_analyses_search_rum" in search_plan or "ix_analyses_search_vector" in search_plan
    history_plan = "\n".join(
        db.execute(
            text(
                "EXPLAIN SELECT id FROM analyses WHERE user_id = :u "
                "ORDER BY created_at DESC, id DESC LIMIT 20"
            ),
            {"u": user.id},
        ).scalars()
    )
    assert "ix_analyses_user_id_created_at" in history_plan
    fragment_plan = "\n".join(
        db.execute(
            text("EXPLAIN SELECT id FROM analyses WHERE 'بيت2999' <% normalized_text")
        ).scalars()
    )
    assert "ix_analyses_normalized_text_trgm" in fragment_plan
