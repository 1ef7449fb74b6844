"""Seed the 16 classical meters.

Frozen: the table shapes, the 16 rows and the spellings accepted for a meter's name are
written out here, exactly as this revision first seeded them from ``app.data.meters``; a
later change to the models or to the reference module does not change what it does.
``bahr-db seed`` brings the meters up to today's reference data.

The upgrade inserts the meters that are missing and updates changed ones in place (matched
by ``name_arabic``; unchanged rows are not touched, so no row lock is taken), then gives
analyses stored before the meters existed (or unlinked by a downgrade) their ``meter_id``
back from their label. The downgrade removes exactly these rows (analyses keep their labels;
their meter_id is set to NULL by the foreign key and restored by the next upgrade).

Revision ID: 0002
Revises: 0001
"""

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METERS = sa.table(
    "meters",
    sa.column("id", sa.Integer),
    sa.column("name_arabic", sa.String),
    sa.column("position", sa.SmallInteger),
    sa.column("name_english", sa.String),
    sa.column("feet", sa.Text),
    sa.column("pattern", sa.Text),
    sa.column("description", sa.Text),
    sa.column("examples", postgresql.JSONB),
    sa.column("metadata", postgresql.JSONB),
)
ANALYSES = sa.table(
    "analyses",
    sa.column("detected_meter", sa.String),
    sa.column("meter_id", sa.Integer),
)
#: Compared to decide whether a meter that exists already needs an update.
COLUMNS = ("name_english", "position", "feet", "pattern", "description", "examples", "metadata")

ROWS: Sequence[dict[str, Any]] = (
    {
        "name_arabic": "الطويل",
        "position": 1,
        "name_english": "al-Tawil",
        "feet": "فعولن مفاعيلن فعولن مفاعيلن",
        "pattern": "//o/o //o/o/o //o/o //o/o/o",
        "description": "بحر تام لا يُستعمل مجزوءًا، وزن شطره فعولن مفاعيلن فعولن مفاعيلن، وعروضه مقبوضة (مفاعلن) وجوبًا. أكثر البحور دورانًا في الشعر العربي القديم، وعليه معلقات امرئ القيس وطرفة وزهير.\nAlways used complete: fa'ulun mafa'ilun fa'ulun mafa'ilun per hemistich, the 'arud (last foot of the first hemistich) always contracted by qabd to //o//o. The most frequent meter of classical Arabic poetry; the Mu'allaqat of Imru' al-Qays, Tarafa and Zuhayr are in it.",
        "examples": [
            {
                "text": "قفا نبك من ذكرى حبيب ومنزل ... بسقط اللوى بين الدخول فحومل",
                "poet": "امرؤ القيس",
                "source": "المعلقة، البيت الأول",
            },
            {
                "text": "لخولة أطلال ببرقة ثهمد ... تلوح كباقي الوشم في ظاهر اليد",
                "poet": "طرفة بن العبد",
                "source": "المعلقة، البيت الأول",
            },
        ],
        "metadata": {
            "circle_feet": "فعولن مفاعيلن فعولن مفاعيلن",
            "circle_pattern": "//o/o //o/o/o //o/o //o/o/o",
            "majzu_only": False,
            "circle": "دائرة المختلف",
            "position": 1,
            "aliases": ["Taweel", "Tawiil"],
        },
    },
    {
        "name_arabic": "المديد",
        "position": 2,
        "name_english": "al-Madid",
        "feet": "فاعلاتن فاعلن فاعلاتن",
        "pattern": "/o//o/o /o//o /o//o/o",
        "description": "لا يُستعمل إلا مجزوءًا، وزن شطره فاعلاتن فاعلن فاعلاتن، وأصله في الدائرة فاعلاتن فاعلن مرتين. قليل الاستعمال.\nUsed only shortened (majzu'): fa'ilatun fa'ilun fa'ilatun per hemistich; the circle form repeats fa'ilatun fa'ilun twice. Rarely used.",
        "examples": [],
        "metadata": {
            "circle_feet": "فاعلاتن فاعلن فاعلاتن فاعلن",
            "circle_pattern": "/o//o/o /o//o /o//o/o /o//o",
            "majzu_only": True,
            "circle": "دائرة المختلف",
            "position": 2,
            "aliases": ["Madeed"],
        },
    },
    {
        "name_arabic": "البسيط",
        "position": 3,
        "name_english": "al-Basit",
        "feet": "مستفعلن فاعلن مستفعلن فاعلن",
        "pattern": "/o/o//o /o//o /o/o//o /o//o",
        "description": "يأتي تامًا ومجزوءًا، وزن شطره التام مستفعلن فاعلن مستفعلن فاعلن، وعروضه التامة مخبونة (فعِلن) وجوبًا. من أكثر البحور استعمالًا بعد الطويل، وعليه قصيدة «بانت سعاد» لكعب بن زهير.\nUsed complete and shortened: mustaf'ilun fa'ilun mustaf'ilun fa'ilun per hemistich, the 'arud of the complete form always contracted by khabn to ///o. Among the most used meters after al-Tawil; Ka'b ibn Zuhayr's Banat Su'ad is in it.",
        "examples": [
            {
                "text": "الخيل والليل والبيداء تعرفني ... والسيف والرمح والقرطاس والقلم",
                "poet": "المتنبي",
                "source": "ديوان المتنبي، ميميته في عتاب سيف الدولة «واحرّ قلباه ممن قلبه شبم»",
            },
            {
                "text": "بانت سعاد فقلبي اليوم متبول ... متيم إثرها لم يفد مكبول",
                "poet": "كعب بن زهير",
                "source": "قصيدة «بانت سعاد» (البردة)، البيت الأول",
            },
        ],
        "metadata": {
            "circle_feet": "مستفعلن فاعلن مستفعلن فاعلن",
            "circle_pattern": "/o/o//o /o//o /o/o//o /o//o",
            "majzu_only": False,
            "circle": "دائرة المختلف",
            "position": 3,
            "aliases": ["Baseet", "Basiit"],
        },
    },
    {
        "name_arabic": "الوافر",
        "position": 4,
        "name_english": "al-Wafir",
        "feet": "مفاعلتن مفاعلتن فعولن",
        "pattern": "//o///o //o///o //o/o",
        "description": "وزن شطره التام في الاستعمال مفاعلتن مفاعلتن فعولن، إذ تأتي التفعيلة الثالثة مقطوفة دائمًا، وأصله في الدائرة مفاعلتن ثلاث مرات. يأتي تامًا ومجزوءًا، ويكثر فيه العصب (مفاعلْتن)، وعليه معلقة عمرو بن كلثوم.\nIn use the complete hemistich is mufa'alatun mufa'alatun fa'ulun: the third foot is always shortened by qatf; the circle form is mufa'alatun three times. Used complete and shortened; 'asb (mufa'altun, //o/o/o) is very common. 'Amr ibn Kulthum's Mu'allaqa is in it.",
        "examples": [
            {
                "text": "ألا هبي بصحنك فاصبحينا ... ولا تبقي خمور الأندرينا",
                "poet": "عمرو بن كلثوم",
                "source": "المعلقة، البيت الأول",
            }
        ],
        "metadata": {
            "circle_feet": "مفاعلتن مفاعلتن مفاعلتن",
            "circle_pattern": "//o///o //o///o //o///o",
            "majzu_only": False,
            "circle": "دائرة المؤتلف",
            "position": 4,
            "aliases": ["Waafir", "Wafer"],
        },
    },
    {
        "name_arabic": "الكامل",
        "position": 5,
        "name_english": "al-Kamil",
        "feet": "متفاعلن متفاعلن متفاعلن",
        "pattern": "///o//o ///o//o ///o//o",
        "description": "يأتي تامًا ومجزوءًا، وزن شطره التام متفاعلن متفاعلن متفاعلن، ويكثر فيه الإضمار (متْفاعلن). من أكثر البحور استعمالًا، وعليه معلقتا عنترة ولبيد.\nUsed complete and shortened: mutafa'ilun three times per hemistich, often with idmar (mutfa'ilun, /o/o//o). Very widely used; the Mu'allaqat of 'Antara and Labid are in it.",
        "examples": [
            {
                "text": "هل غادر الشعراء من متردم ... أم هل عرفت الدار بعد توهم",
                "poet": "عنترة بن شداد",
                "source": "المعلقة، البيت الأول",
            },
            {
                "text": "عفت الديار محلها فمقامها ... بمنى تأبد غولها فرجامها",
                "poet": "لبيد بن ربيعة",
                "source": "المعلقة، البيت الأول",
            },
        ],
        "metadata": {
            "circle_feet": "متفاعلن متفاعلن متفاعلن",
            "circle_pattern": "///o//o ///o//o ///o//o",
            "majzu_only": False,
            "circle": "دائرة المؤتلف",
            "position": 5,
            "aliases": ["Kaamil", "Kamel"],
        },
    },
    {
        "name_arabic": "الهزج",
        "position": 6,
        "name_english": "al-Hazaj",
        "feet": "مفاعيلن مفاعيلن",
        "pattern": "//o/o/o //o/o/o",
        "description": "لا يُستعمل إلا مجزوءًا، وزن شطره مفاعيلن مفاعيلن، وأصله في الدائرة مفاعيلن ثلاث مرات. خفيف الإيقاع، قليل في الشعر القديم.\nUsed only shortened: mafa'ilun mafa'ilun per hemistich (the circle form has three). Light and song-like; rare in early poetry.",
        "examples": [],
        "metadata": {
            "circle_feet": "مفاعيلن مفاعيلن مفاعيلن",
            "circle_pattern": "//o/o/o //o/o/o //o/o/o",
            "majzu_only": True,
            "circle": "دائرة المجتلب",
            "position": 6,
            "aliases": [],
        },
    },
    {
        "name_arabic": "الرجز",
        "position": 7,
        "name_english": "al-Rajaz",
        "feet": "مستفعلن مستفعلن مستفعلن",
        "pattern": "/o/o//o /o/o//o /o/o//o",
        "description": "يأتي تامًا ومجزوءًا ومشطورًا ومنهوكًا، وزن شطره التام مستفعلن ثلاث مرات. لسهولته سُمّي «حمار الشعراء»، وعليه الأراجيز والمنظومات التعليمية كألفية ابن مالك.\nUsed complete, shortened, halved (mashtur) and reduced (manhuk): mustaf'ilun three times per hemistich. Called 'the poets' donkey' for its ease; the meter of the urjuza and of didactic poems such as Ibn Malik's Alfiyya.",
        "examples": [
            {
                "text": "قال محمد هو ابن مالك ... أحمد ربي الله خير مالك",
                "poet": "ابن مالك",
                "source": "الألفية (الخلاصة)، البيت الأول",
            }
        ],
        "metadata": {
            "circle_feet": "مستفعلن مستفعلن مستفعلن",
            "circle_pattern": "/o/o//o /o/o//o /o/o//o",
            "majzu_only": False,
            "circle": "دائرة المجتلب",
            "position": 7,
            "aliases": [],
        },
    },
    {
        "name_arabic": "الرمل",
        "position": 8,
        "name_english": "al-Ramal",
        "feet": "فاعلاتن فاعلاتن فاعلاتن",
        "pattern": "/o//o/o /o//o/o /o//o/o",
        "description": "يأتي تامًا ومجزوءًا، أصل شطره التام فاعلاتن ثلاث مرات، وعروضه التامة محذوفة دائمًا (فاعلن). وعليه لامية ابن الوردي.\nUsed complete and shortened: fa'ilatun three times per hemistich, the 'arud of the complete form always shortened by hadhf to fa'ilun (/o//o). Ibn al-Wardi's Lamiyya is in it.",
        "examples": [
            {
                "text": "اعتزل ذكر الأغاني والغزل ... وقل الفصل وجانب من هزل",
                "poet": "ابن الوردي",
                "source": "اللامية (نصيحة الإخوان)، البيت الأول",
            }
        ],
        "metadata": {
            "circle_feet": "فاعلاتن فاعلاتن فاعلاتن",
            "circle_pattern": "/o//o/o /o//o/o /o//o/o",
            "majzu_only": False,
            "circle": "دائرة المجتلب",
            "position": 8,
            "aliases": [],
        },
    },
    {
        "name_arabic": "السريع",
        "position": 9,
        "name_english": "al-Sari",
        "feet": "مستفعلن مستفعلن فاعلن",
        "pattern": "/o/o//o /o/o//o /o//o",
        "description": "أصل شطره في الدائرة مستفعلن مستفعلن مفعولات، ولا تأتي مفعولات في آخره سالمة، فيُستعمل على مستفعلن مستفعلن فاعلن (مفعولات مطوية مكسوفة). يأتي تامًا ومشطورًا.\nCircle form mustaf'ilun mustaf'ilun maf'ulatu; the final maf'ulatu never appears intact, so in use the hemistich is mustaf'ilun mustaf'ilun fa'ilun. Used complete and halved (mashtur).",
        "examples": [],
        "metadata": {
            "circle_feet": "مستفعلن مستفعلن مفعولات",
            "circle_pattern": "/o/o//o /o/o//o /o/o/o/",
            "majzu_only": False,
            "circle": "دائرة المشتبه",
            "position": 9,
            "aliases": ["Saree", "Sarii"],
        },
    },
    {
        "name_arabic": "المنسرح",
        "position": 10,
        "name_english": "al-Munsarih",
        "feet": "مستفعلن مفعولات مستفعلن",
        "pattern": "/o/o//o /o/o/o/ /o/o//o",
        "description": "وزن شطره مستفعلن مفعولات مستفعلن، ويكثر طيّ مفعولات (فاعلاتُ)، ويغلب أن يكون ضربه التام مطويًّا (مفتعلن). يأتي تامًا ومنهوكًا.\nmustaf'ilun maf'ulatu mustaf'ilun per hemistich; maf'ulatu usually appears with tayy (fa'ilatu, /o//o/) and the darb of the complete form is usually muftailun (/o///o). Used complete and reduced (manhuk).",
        "examples": [],
        "metadata": {
            "circle_feet": "مستفعلن مفعولات مستفعلن",
            "circle_pattern": "/o/o//o /o/o/o/ /o/o//o",
            "majzu_only": False,
            "circle": "دائرة المشتبه",
            "position": 10,
            "aliases": ["Munsareh"],
        },
    },
    {
        "name_arabic": "الخفيف",
        "position": 11,
        "name_english": "al-Khafif",
        "feet": "فاعلاتن مستفعلن فاعلاتن",
        "pattern": "/o//o/o /o/o//o /o//o/o",
        "description": "وزن شطره فاعلاتن مستفع لن فاعلاتن، ومستفع لن فيه مفروقة الوتد (كُتبت هنا متصلة «مستفعلن» لأن الحركات والسكنات واحدة). يأتي تامًا ومجزوءًا، وعليه معلقة الحارث بن حلزة.\nfa'ilatun mustaf'i lun fa'ilatun per hemistich; the middle foot has a split (mafruq) peg and is written here unsplit as mustaf'ilun, the letter pattern being the same. Used complete and shortened; al-Harith ibn Hilliza's Mu'allaqa is in it.",
        "examples": [
            {
                "text": "آذنتنا ببينها أسماء ... رب ثاو يمل منه الثواء",
                "poet": "الحارث بن حلزة",
                "source": "المعلقة، البيت الأول",
            },
            {
                "text": "غير مجد في ملتي واعتقادي ... نوح باك ولا ترنم شاد",
                "poet": "أبو العلاء المعري",
                "source": "سقط الزند، مطلع داليته في الرثاء",
            },
        ],
        "metadata": {
            "circle_feet": "فاعلاتن مستفعلن فاعلاتن",
            "circle_pattern": "/o//o/o /o/o//o /o//o/o",
            "majzu_only": False,
            "circle": "دائرة المشتبه",
            "position": 11,
            "aliases": ["Khafeef"],
        },
    },
    {
        "name_arabic": "المضارع",
        "position": 12,
        "name_english": "al-Mudari",
        "feet": "مفاعيلن فاعلاتن",
        "pattern": "//o/o/o /o//o/o",
        "description": "لا يُستعمل إلا مجزوءًا، وزن شطره مفاعيلن فاع لاتن (كُتبت الثانية هنا متصلة «فاعلاتن» لأن الحركات والسكنات واحدة). نادر في الشعر.\nUsed only shortened: mafa'ilun fa'i latun per hemistich, the split-peg second foot written here unsplit as fa'ilatun (same letter pattern). Rare.",
        "examples": [],
        "metadata": {
            "circle_feet": "مفاعيلن فاعلاتن مفاعيلن",
            "circle_pattern": "//o/o/o /o//o/o //o/o/o",
            "majzu_only": True,
            "circle": "دائرة المشتبه",
            "position": 12,
            "aliases": ["Mudhari", "Mudare"],
        },
    },
    {
        "name_arabic": "المقتضب",
        "position": 13,
        "name_english": "al-Muqtadab",
        "feet": "مفعولات مستفعلن",
        "pattern": "/o/o/o/ /o/o//o",
        "description": "لا يُستعمل إلا مجزوءًا، وزن شطره مفعولات مستفعلن، ويغلب أن يأتي على فاعلاتُ مفتعلن. نادر في الشعر.\nUsed only shortened: maf'ulatu mustaf'ilun per hemistich, usually realised as fa'ilatu muftailun (/o//o/ /o///o). Rare.",
        "examples": [],
        "metadata": {
            "circle_feet": "مفعولات مستفعلن مستفعلن",
            "circle_pattern": "/o/o/o/ /o/o//o /o/o//o",
            "majzu_only": True,
            "circle": "دائرة المشتبه",
            "position": 13,
            "aliases": ["Muqtadhab"],
        },
    },
    {
        "name_arabic": "المجتث",
        "position": 14,
        "name_english": "al-Mujtathth",
        "feet": "مستفعلن فاعلاتن",
        "pattern": "/o/o//o /o//o/o",
        "description": "لا يُستعمل إلا مجزوءًا، وزن شطره مستفع لن فاعلاتن (كُتبت الأولى هنا متصلة «مستفعلن» لأن الحركات والسكنات واحدة).\nUsed only shortened: mustaf'i lun fa'ilatun per hemistich, the split-peg first foot written here unsplit as mustaf'ilun (same letter pattern).",
        "examples": [],
        "metadata": {
            "circle_feet": "مستفعلن فاعلاتن فاعلاتن",
            "circle_pattern": "/o/o//o /o//o/o /o//o/o",
            "majzu_only": True,
            "circle": "دائرة المشتبه",
            "position": 14,
            "aliases": ["Mujtath"],
        },
    },
    {
        "name_arabic": "المتقارب",
        "position": 15,
        "name_english": "al-Mutaqarib",
        "feet": "فعولن فعولن فعولن فعولن",
        "pattern": "//o/o //o/o //o/o //o/o",
        "description": "يأتي تامًا ومجزوءًا، وزن شطره التام فعولن أربع مرات. إيقاعه متتابع، وعليه قصيدة «إرادة الحياة» لأبي القاسم الشابي.\nUsed complete and shortened: fa'ulun four times per hemistich. An even, running rhythm; Abu al-Qasim al-Shabbi's 'The Will to Live' is in it.",
        "examples": [
            {
                "text": "إذا الشعب يوما أراد الحياة ... فلا بد أن يستجيب القدر",
                "poet": "أبو القاسم الشابي",
                "source": "قصيدة «إرادة الحياة»، ديوان أغاني الحياة",
            }
        ],
        "metadata": {
            "circle_feet": "فعولن فعولن فعولن فعولن",
            "circle_pattern": "//o/o //o/o //o/o //o/o",
            "majzu_only": False,
            "circle": "دائرة المتفق",
            "position": 15,
            "aliases": ["Mutaqareb", "Mutakarib"],
        },
    },
    {
        "name_arabic": "المتدارك",
        "position": 16,
        "name_english": "al-Mutadarik",
        "feet": "فاعلن فاعلن فاعلن فاعلن",
        "pattern": "/o//o /o//o /o//o /o//o",
        "description": "البحر الذي تداركه الأخفش على الخليل، وزن شطره فاعلن أربع مرات، ويكثر فيه الخبن (فعِلن) والتشعيث (فعْلن)، ويُسمّى حينئذ الخبب أو ركض الخيل.\nThe meter al-Akhfash added to al-Khalil's fifteen: fa'ilun four times per hemistich; with frequent khabn (///o) and tash'ith (/o/o) it is known as al-khabab.",
        "examples": [
            {
                "text": "يا ليل الصب متى غده ... أقيام الساعة موعده",
                "poet": "الحصري القيرواني",
                "source": "قصيدة «يا ليل الصب»، المطلع",
            }
        ],
        "metadata": {
            "circle_feet": "فاعلن فاعلن فاعلن فاعلن",
            "circle_pattern": "/o//o /o//o /o//o /o//o",
            "majzu_only": False,
            "circle": "دائرة المتفق",
            "position": 16,
            "aliases": ["الخبب", "المحدث", "المخترع", "ركض الخيل", "Khabab"],
        },
    },
)

#: Every accepted spelling, folded (see ``_fold``) -> the meter's ``name_arabic``.
KEYS: Mapping[str, str] = {
    "baseet": "البسيط",
    "basiit": "البسيط",
    "basit": "البسيط",
    "بسيط": "البسيط",
    "khafeef": "الخفيف",
    "khafif": "الخفيف",
    "خفيف": "الخفيف",
    "rajaz": "الرجز",
    "رجز": "الرجز",
    "ramal": "الرمل",
    "رمل": "الرمل",
    "saree": "السريع",
    "sari": "السريع",
    "sarii": "السريع",
    "سريع": "السريع",
    "taweel": "الطويل",
    "tawiil": "الطويل",
    "tawil": "الطويل",
    "طويل": "الطويل",
    "kaamil": "الكامل",
    "kamel": "الكامل",
    "kamil": "الكامل",
    "كامل": "الكامل",
    "khabab": "المتدارك",
    "mutadarik": "المتدارك",
    "خبب": "المتدارك",
    "ركضالخيل": "المتدارك",
    "متدارك": "المتدارك",
    "محدث": "المتدارك",
    "مخترع": "المتدارك",
    "mutakarib": "المتقارب",
    "mutaqareb": "المتقارب",
    "mutaqarib": "المتقارب",
    "متقارب": "المتقارب",
    "mujtath": "المجتث",
    "mujtathth": "المجتث",
    "مجتث": "المجتث",
    "madeed": "المديد",
    "madid": "المديد",
    "مديد": "المديد",
    "mudare": "المضارع",
    "mudari": "المضارع",
    "mudhari": "المضارع",
    "مضارع": "المضارع",
    "muqtadab": "المقتضب",
    "muqtadhab": "المقتضب",
    "مقتضب": "المقتضب",
    "munsareh": "المنسرح",
    "munsarih": "المنسرح",
    "منسرح": "المنسرح",
    "hazaj": "الهزج",
    "هزج": "الهزج",
    "waafir": "الوافر",
    "wafer": "الوافر",
    "wafir": "الوافر",
    "وافر": "الوافر",
}


def upgrade() -> None:
    bind = op.get_bind()
    _seed(bind)
    # Analyses stored before the meters existed (or unlinked by a downgrade) get their
    # meter_id back from their label.
    _relink(bind)


def downgrade() -> None:
    names = [row["name_arabic"] for row in ROWS]
    op.get_bind().execute(sa.delete(METERS).where(METERS.c.name_arabic.in_(names)))


def _seed(conn: sa.Connection) -> None:
    current = {
        row.name_arabic: {c: row._mapping[c] for c in COLUMNS}
        for row in conn.execute(sa.select(METERS.c.name_arabic, *(METERS.c[c] for c in COLUMNS)))
    }
    new = [row for row in ROWS if row["name_arabic"] not in current]
    changed = [
        row
        for row in ROWS
        if row["name_arabic"] in current
        and any(current[row["name_arabic"]][c] != row[c] for c in COLUMNS)
    ]
    if new:
        conn.execute(sa.insert(METERS), new)
    if changed:
        conn.execute(
            sa.update(METERS)
            .where(METERS.c.name_arabic == sa.bindparam("key"))
            .values({c: sa.bindparam(f"new_{c}") for c in COLUMNS}),
            [
                {**{f"new_{c}": row[c] for c in COLUMNS}, "key": row["name_arabic"]}
                for row in changed
            ],
        )


def _relink(conn: sa.Connection) -> None:
    ids = dict(conn.execute(sa.select(METERS.c.name_arabic, METERS.c.id)).all())
    labels = conn.execute(
        sa.select(ANALYSES.c.detected_meter)
        .where(ANALYSES.c.meter_id.is_(None), ANALYSES.c.detected_meter.is_not(None))
        .distinct()
    ).scalars()
    for label in labels:
        canonical = _lookup_name(label)
        if canonical is None or canonical not in ids:
            continue
        conn.execute(
            sa.update(ANALYSES)
            .where(ANALYSES.c.meter_id.is_(None), ANALYSES.c.detected_meter == label)
            .values(meter_id=ids[canonical])
        )


# -- a meter's name in any accepted spelling ---------------------------------------------------
# What app.data.meters.lookup_name and app.text.arabic.normalize did for a name when this
# revision was written, reduced to the steps that decide a match.

#: Dropped before matching: tatweel, and the Arabic marks (harakat, shadda, sukun, dagger
#: alef, Quranic annotation marks, Arabic Extended-A/B marks).
_REMOVED = frozenset(
    {
        0x0640,
        *range(0x0610, 0x061B),
        *range(0x064B, 0x0660),
        0x0670,
        *range(0x06D6, 0x06EE),
        *range(0x0898, 0x08A0),
        *range(0x08CA, 0x08E2),
        *range(0x08E3, 0x0900),
    }
)
_LETTERS = str.maketrans(
    {
        "\u0623": "\u0627",
        "\u0625": "\u0627",
        "\u0622": "\u0627",
        "\u0671": "\u0627",
        "\u0649": "\u064a",
        "\u0629": "\u0647",
    }
)
#: Persian yeh and keheh, and the quotes of transliterations (ʿ ʾ ʻ ʼ ‘ ’ ' `).
_NAME_FOLDS = str.maketrans(
    {
        "\u06cc": "\u064a",
        "\u06a9": "\u0643",
        "\u02bf": None,
        "\u02be": None,
        "\u02bb": None,
        "\u02bc": None,
        "\u2018": None,
        "\u2019": None,
        "'": None,
        "`": None,
    }
)
#: Tried in front of a name ("the meter", the Arabic and the Latin article).
_PREFIXES = ("البحر", "بحر", "ال", "bahr", "al", "el")


def _fold(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if ord(ch) not in _REMOVED).translate(_LETTERS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_NAME_FOLDS).casefold()
    return "".join(ch for ch in text if ch.isalnum())


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


def _lookup_name(label: str) -> str | None:
    """The ``name_arabic`` of the meter ``label`` names, in any accepted spelling."""
    for candidate in _candidates(_fold(label)):
        if candidate in KEYS:
            return KEYS[candidate]
    return None
