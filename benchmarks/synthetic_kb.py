"""Write a large, valid, synthetic KB for the scale benchmarks.

    python benchmarks/synthetic_kb.py --people 100000 --out /tmp/hanoi-bench/kb-100000.json

The file passes `hanoi validate` (without `--sources`: the quotes are invented). It holds N
people and, in proportion, countries (N/50), organisations (N/10) and statements (N/2), plus a
few sources, events and figures. Names mix Vietnamese (with diacritics), Portuguese, Spanish,
Russian, Arabic, Chinese, African and Nordic names, so folding, token and fuzzy lookups meet the
same kind of variety as in the real KB. Everything is derived from `--seed`: the same arguments
always write the same bytes.

A few fixed entries are always there, so the benchmark can ask the same questions of every
size: António Guterres (`who Guterres`, `who Gutteres`), Lương Tam Quang, the United Nations,
UNODC and Vietnam. No synthetic name contains "Guterres". The summary of Guterres's statement
ends in `(revision 000)`; `run.py` rewrites those digits in place to change the file without
changing its size.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

KNOWN_PERSON = "António Guterres"
KNOWN_QUERY = "Guterres"
FUZZY_QUERY = "Gutteres"
SEARCH_QUERY = "ransomware"
REVISION_MARK = "(revision 000)"

Doc = dict[str, Any]

_FIRST = {
    "vi": ["Văn", "Thị", "Minh", "Quang", "Hồng", "Thanh", "Đức", "Ngọc", "Hữu", "Anh"],
    "vi_given": [
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hà",
        "Hải",
        "Hùng",
        "Lan",
        "Linh",
        "Long",
        "Mai",
        "Nam",
        "Phong",
        "Phương",
        "Quân",
        "Sơn",
        "Tâm",
        "Thảo",
        "Trung",
        "Tuấn",
        "Việt",
        "Yến",
        "Khánh",
        "Hiếu",
        "Đạt",
    ],
    "pt": [
        "João",
        "José",
        "António",
        "Maria",
        "Ana",
        "Luís",
        "Inês",
        "Rui",
        "Tiago",
        "Sofia",
        "Beatriz",
        "Gonçalo",
        "Mariana",
        "Duarte",
    ],
    "es": [
        "Carlos",
        "María",
        "Javier",
        "Lucía",
        "Alejandro",
        "Sofía",
        "Andrés",
        "Valentina",
        "Diego",
        "Camila",
        "Mateo",
        "Paula",
    ],
    "ru": [
        "Alexei",
        "Dmitry",
        "Sergei",
        "Olga",
        "Natalia",
        "Irina",
        "Vladimir",
        "Yekaterina",
        "Mikhail",
        "Anastasia",
        "Pavel",
        "Svetlana",
    ],
    "ar": [
        "Mohammed",
        "Ahmed",
        "Fatima",
        "Omar",
        "Layla",
        "Youssef",
        "Khalid",
        "Aisha",
        "Hassan",
        "Mariam",
        "Karim",
        "Nour",
    ],
    "zh": [
        "Wei",
        "Fang",
        "Jing",
        "Lei",
        "Min",
        "Tao",
        "Xiaoming",
        "Yan",
        "Hui",
        "Jun",
        "Li",
        "Qiang",
    ],
    "af": [
        "Chinedu",
        "Amara",
        "Kwame",
        "Ngozi",
        "Tendai",
        "Zanele",
        "Oluwaseun",
        "Fatou",
        "Abebe",
        "Wanjiru",
        "Kofi",
        "Thandiwe",
    ],
    "no": [
        "Bjørn",
        "Åsa",
        "Søren",
        "Ingrid",
        "Lars",
        "Sigrid",
        "Magnus",
        "Freja",
        "Håkon",
        "Astrid",
        "Eirik",
        "Liv",
    ],
    "en": [
        "John",
        "Sarah",
        "Michael",
        "Emily",
        "David",
        "Laura",
        "James",
        "Olivia",
        "Peter",
        "Hannah",
        "Robert",
        "Grace",
    ],
}
_LAST = {
    "vi": [
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Vũ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lương",
        "Trịnh",
    ],
    "pt": [
        "Silva",
        "Santos",
        "Ferreira",
        "Pereira",
        "Oliveira",
        "Costa",
        "Rodrigues",
        "Martins",
        "Sousa",
        "Gonçalves",
        "Carvalho",
        "Lourenço",
    ],
    "es": [
        "García",
        "Fernández",
        "González",
        "López",
        "Martínez",
        "Sánchez",
        "Pérez",
        "Gómez",
        "Díaz",
        "Álvarez",
        "Romero",
        "Torres",
    ],
    "ru": [
        "Ivanov",
        "Smirnova",
        "Kuznetsov",
        "Popova",
        "Sokolov",
        "Lebedeva",
        "Kozlov",
        "Novikova",
        "Morozov",
        "Volkova",
        "Lyukmanov",
        "Zakharov",
    ],
    "ar": [
        "Al-Sayed",
        "Haddad",
        "Mansour",
        "Khalil",
        "Nasser",
        "Al-Farsi",
        "Hamdan",
        "Saleh",
        "Aziz",
        "Rahman",
        "Bakr",
        "Qasim",
    ],
    "zh": [
        "Wang",
        "Zhang",
        "Liu",
        "Chen",
        "Yang",
        "Huang",
        "Zhao",
        "Zhou",
        "Wu",
        "Xu",
        "Sun",
        "Ma",
    ],
    "af": [
        "Okafor",
        "Mensah",
        "Diallo",
        "Mwangi",
        "Banda",
        "Nkosi",
        "Adeyemi",
        "Traoré",
        "Tesfaye",
        "Kamau",
        "Osei",
        "Dlamini",
    ],
    "no": [
        "Hansen",
        "Johansen",
        "Olsen",
        "Larsen",
        "Andersen",
        "Pedersen",
        "Nilsen",
        "Kristiansen",
        "Jensen",
        "Karlsen",
        "Sørensen",
        "Haugen",
    ],
    "en": [
        "Smith",
        "Brown",
        "Taylor",
        "Wilson",
        "Clarke",
        "Walker",
        "Wright",
        "Hughes",
        "Edwards",
        "Green",
        "Hall",
        "Brandolino",
    ],
}
_SYLLABLES = [
    "al",
    "bar",
    "cor",
    "dan",
    "el",
    "fen",
    "gar",
    "hal",
    "is",
    "kor",
    "lan",
    "mar",
    "nor",
    "or",
    "pel",
    "ros",
    "sar",
    "tan",
    "ul",
    "val",
    "wen",
    "zan",
    "ber",
    "tor",
]
_COUNTRY_ENDINGS = ["ia", "land", "stan", "ara", "ovia", "eria", "ica", "onia", "ador", "ey"]
_ORG_PATTERNS = [
    ("Ministry of Public Security of {c}", "ministry"),
    ("Ministry of Foreign Affairs of {c}", "ministry"),
    ("Ministry of Information and Communications of {c}", "ministry"),
    ("{c} National Cyber Security Centre", "government-department"),
    ("{c} News Agency", "news-outlet"),
    ("{c} Institute for Digital Policy", "research-institution"),
    ("University of {c} Law School", "university"),
    ("Permanent Mission of {c} to the United Nations", "government"),
    ("{c} Computer Emergency Response Team", "government-department"),
    ("{c} Broadcasting Corporation", "news-outlet"),
]
_TITLES = [
    "Minister of Public Security",
    "Deputy Minister of Foreign Affairs",
    "Ambassador to the United Nations",
    "Head of Delegation",
    "Director of the Cybercrime Department",
    "Chief Negotiator",
    "Permanent Representative",
    "Spokesperson",
    "Senior Researcher",
    "Editor-in-Chief",
]
_TOPICS = [
    "ransomware",
    "cooperation",
    "human-rights",
    "capacity-building",
    "signatories",
    "data-protection",
    "extradition",
    "electronic-evidence",
    "sovereignty",
    "fraud",
    "child-protection",
    "ratification",
    "technical-assistance",
    "privacy",
    "trafficking",
]
_TOPIC_PHRASES = {
    "ransomware": "ransomware attacks on hospitals and utilities",
    "cooperation": "international cooperation between law enforcement agencies",
    "human-rights": "safeguards for human rights and fundamental freedoms",
    "capacity-building": "capacity building for developing countries",
    "signatories": "the number of countries signing the convention",
    "data-protection": "the protection of personal data in cross-border requests",
    "extradition": "extradition of suspects in cybercrime cases",
    "electronic-evidence": "the sharing of electronic evidence across borders",
    "sovereignty": "respect for national sovereignty in cyberspace",
    "fraud": "online fraud and scams targeting older people",
    "child-protection": "the protection of children from online sexual abuse",
    "ratification": "swift ratification by national parliaments",
    "technical-assistance": "technical assistance from UNODC",
    "privacy": "privacy of ordinary internet users",
    "trafficking": "human trafficking organised through social media",
}
_OPENERS = [
    "The convention marks",
    "We are committed to",
    "Our delegation stressed",
    "This agreement strengthens",
    "The signing demonstrates",
    "We call for",
    "The ceremony in Hanoi highlighted",
    "Member states must prioritise",
]
_OUTLETS = [
    "VOV",
    "Vietnam+",
    "VnExpress",
    "Nhân Dân",
    "Tuổi Trẻ",
    "UN News",
    "Reuters",
    "The Diplomat",
    "Lao Động",
    "VietnamNet",
]

_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_BASE_LETTERS = str.maketrans({"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE"})


def ascii_form(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_BASE_LETTERS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def name_key(text: str) -> str:
    """Close to `hanoi_cli.text.compact(fold(...))`: what the alias check compares."""
    return _SLUG_DROP.sub("", ascii_form(text).casefold().replace("'", ""))


class Ids:
    """Ids unique across every kind, as the schema requires."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, text: str) -> str:
        base = _SLUG_DROP.sub("-", ascii_form(text).lower()).strip("-")[:70] or "x"
        candidate, number = base, 2
        while candidate in self.used:
            candidate, number = f"{base}-{number}", number + 1
        self.used.add(candidate)
        return candidate


def evidence(source: str, quote: str) -> list[Doc]:
    return [{"source": source, "quote": quote}]


def person_name(rng: random.Random) -> str:
    culture = rng.choice(list(_LAST))
    last = rng.choice(_LAST[culture])
    if culture == "vi":
        middle = rng.choice(_FIRST["vi"])
        given = rng.choice(_FIRST["vi_given"])
        return f"{last} {middle} {given}" if rng.random() < 0.8 else f"{last} {given}"
    first = rng.choice(_FIRST[culture])
    if culture in ("pt", "es") and rng.random() < 0.4:
        return f"{first} {last} {rng.choice(_LAST[culture])}"
    if culture == "ru" and rng.random() < 0.3:
        return f"{first} {rng.choice(_FIRST['ru'])}ovich {last}"
    return f"{first} {last}"


def country_name(rng: random.Random) -> str:
    stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 2)))
    return (stem + rng.choice(_COUNTRY_ENDINGS)).capitalize()


def fixed_part() -> Doc:
    """The entries every synthetic KB holds, shaped like the real KB's."""
    return {
        "schema_version": 1,
        "sources": [
            {
                "id": "vov-closing",
                "file": "002_0e96ded8a294ba41.txt",
                "outlet": "VOV",
                "title": "Hanoi Convention - A beacon guiding global cooperation on cybersecurity",
                "published": {"value": "2025-10-26", "precision": "day"},
            },
            {
                "id": "vietnamplus-media",
                "file": "004_a4fa1638a8bceb4d.txt",
                "outlet": "Vietnam+",
                "title": "International media on Viet Nam's role",
                "url": "https://www.vietnamplus.vn/",
            },
        ],
        "people": [
            {
                "id": "antonio-guterres",
                "name": KNOWN_PERSON,
                "aliases": ["Antonio Guterres"],
                "titles": [
                    {
                        "title": "UN Secretary-General",
                        "organisation": "united-nations",
                        "evidence": evidence(
                            "vietnamplus-media", "UN Secretary-General Antonio Guterres"
                        ),
                    }
                ],
                "evidence": evidence("vietnamplus-media", "UN Secretary-General Antonio Guterres"),
            },
            {
                "id": "luong-tam-quang",
                "name": "Lương Tam Quang",
                "aliases": ["Luong Tam Quang"],
                "titles": [
                    {
                        "title": "Minister of Public Security",
                        "organisation": "ministry-of-public-security",
                        "country": "vietnam",
                        "evidence": evidence(
                            "vov-closing", "Minister of Public Security Gen. Luong Tam Quang"
                        ),
                    }
                ],
                "country": "vietnam",
                "evidence": evidence("vov-closing", "Gen. Luong Tam Quang"),
            },
        ],
        "countries": [
            {
                "id": "vietnam",
                "name": "Vietnam",
                "aliases": ["Viet Nam", "Việt Nam"],
                "roles": [{"role": "host", "evidence": evidence("vov-closing", "hosted")}],
                "representatives": ["luong-tam-quang"],
                "evidence": evidence("vov-closing", "Vietnam"),
            }
        ],
        "organisations": [
            {
                "id": "united-nations",
                "name": "United Nations",
                "acronym": "UN",
                "kind": "un-body",
                "evidence": evidence("vov-closing", "the central role of the UN"),
            },
            {
                "id": "unodc",
                "name": "United Nations Office on Drugs and Crime",
                "acronym": "UNODC",
                "kind": "un-body",
                "parent": "united-nations",
                "evidence": evidence("vov-closing", "(UNODC)"),
            },
            {
                "id": "ministry-of-public-security",
                "name": "Ministry of Public Security",
                "kind": "ministry",
                "country": "vietnam",
                "evidence": evidence("vov-closing", "the Ministry of Public Security"),
            },
        ],
        "figures": [],
        "events": [
            {
                "id": "closing-session",
                "title": "Closing session of the signing ceremony",
                "date": {"value": "2025-10-26", "precision": "day"},
                "place": "Hanoi",
                "participants": ["luong-tam-quang", "antonio-guterres"],
                "evidence": evidence("vov-closing", "Speaking at the closing session"),
            }
        ],
        "statements": [
            {
                "id": "guterres-historic-step",
                "speaker": "antonio-guterres",
                "kind": "direct",
                "quote": "a historic step towards a safer digital world.",
                "summary": f"The convention is a historic step {REVISION_MARK}",
                "topics": ["signatories"],
                "evidence": evidence("vietnamplus-media", "a historic step"),
            }
        ],
    }


def build(people_count: int, seed: int) -> Doc:  # noqa: PLR0915 - one recipe, read top to bottom
    rng = random.Random(seed)
    kb = fixed_part()
    ids = Ids()
    for section in ("sources", "people", "countries", "organisations", "events", "statements"):
        ids.used.update(entity["id"] for entity in kb[section])

    source_ids = [source["id"] for source in kb["sources"]]
    for number in range(max(3, people_count // 1000)):
        outlet = _OUTLETS[number % len(_OUTLETS)]
        source_id = ids.new(f"{outlet} report {number}")
        source_ids.append(source_id)
        kb["sources"].append(
            {
                "id": source_id,
                "file": f"{number + 100:04d}_{rng.getrandbits(64):016x}.txt",
                "outlet": outlet,
                "title": f"{rng.choice(_OPENERS)} {rng.choice(list(_TOPIC_PHRASES.values()))}",
                "published": {"value": f"2025-10-{rng.randint(1, 31):02d}", "precision": "day"},
            }
        )

    keys = {"country": {"vietnam"}, "organisation": {"unitednations", "un", "unodc"}}
    keys["organisation"].update({"unitednationsofficeondrugsandcrime", "ministryofpublicsecurity"})
    country_ids = ["vietnam"]
    country_names = ["Vietnam"]
    while len(country_ids) < max(5, people_count // 50):
        name = country_name(rng)
        if name_key(name) in keys["country"]:
            continue
        keys["country"].add(name_key(name))
        country_ids.append(ids.new(name))
        country_names.append(name)
        kb["countries"].append(
            {
                "id": country_ids[-1],
                "name": name,
                "aliases": [f"Republic of {name}"] if rng.random() < 0.3 else [],
                "roles": [
                    {
                        "role": rng.choice(["signatory", "supporter", "negotiator", "mentioned"]),
                        "evidence": evidence(rng.choice(source_ids), f"{name} signed"),
                    }
                ],
                "evidence": evidence(rng.choice(source_ids), f"the delegation of {name}"),
            }
        )
    # Alias keys of countries include "republicof..." forms; record them too.
    for country in kb["countries"]:
        keys["country"].update(name_key(alias) for alias in country["aliases"])

    org_ids = ["united-nations", "unodc", "ministry-of-public-security"]
    org_country = {"ministry-of-public-security": "vietnam"}
    attempts = 0
    while len(org_ids) < max(5, people_count // 10) and attempts < people_count * 10:
        attempts += 1
        index = rng.randrange(len(country_ids))
        pattern, kind = rng.choice(_ORG_PATTERNS)
        name = pattern.format(c=country_names[index])
        if name_key(name) in keys["organisation"]:
            continue
        keys["organisation"].add(name_key(name))
        org_id = ids.new(name)
        org_ids.append(org_id)
        org_country[org_id] = country_ids[index]
        kb["organisations"].append(
            {
                "id": org_id,
                "name": name,
                "kind": kind,
                "country": country_ids[index],
                "evidence": evidence(rng.choice(source_ids), name),
            }
        )

    people_keys = {"antonioguterres", "luongtamquang"}
    person_ids = ["antonio-guterres", "luong-tam-quang"]
    while len(person_ids) < people_count:
        name = person_name(rng)
        key = name_key(name)
        if key in people_keys:
            name = f"{name} {rng.choice('ABCDEFGHKLMNPRST')}{rng.randint(2, 999)}"
            key = name_key(name)
            if key in people_keys:
                continue
        people_keys.add(key)
        person_id = ids.new(name)
        person_ids.append(person_id)
        org_id = rng.choice(org_ids)
        country_id = org_country.get(org_id, rng.choice(country_ids))
        title = rng.choice(_TITLES)
        source_id = rng.choice(source_ids)
        plain = ascii_form(name)
        person: Doc = {"id": person_id, "name": name}
        if plain != name:
            person["aliases"] = [plain]
        person["titles"] = [
            {
                "title": title,
                "organisation": org_id,
                "country": country_id,
                "evidence": evidence(source_id, f"{title} {plain}"),
            }
        ]
        person["country"] = country_id
        person["evidence"] = evidence(source_id, plain)
        kb["people"].append(person)

    for org in kb["organisations"][3:]:
        if rng.random() < 0.3:
            org["people"] = rng.sample(person_ids, 2)
    for country in kb["countries"][1:]:
        if rng.random() < 0.5:
            country["representatives"] = [rng.choice(person_ids)]

    event_ids = ["closing-session"]
    for number in range(max(3, people_count // 1000)):
        title = f"{rng.choice(['Plenary', 'Panel', 'Side event', 'Bilateral meeting'])} {number}"
        event_id = ids.new(f"event {title}")
        event_ids.append(event_id)
        participants = rng.sample(person_ids, 5) + rng.sample(country_ids, 2)
        kb["events"].append(
            {
                "id": event_id,
                "title": f"{title} on {rng.choice(list(_TOPIC_PHRASES.values()))}",
                "date": {"value": f"2025-10-{rng.randint(20, 31):02d}", "precision": "day"},
                "place": "Hanoi",
                "participants": list(dict.fromkeys(participants)),
                "evidence": evidence(rng.choice(source_ids), title),
            }
        )

    for number in range(people_count // 2):
        topic = rng.choice(_TOPICS)
        quote = f"{rng.choice(_OPENERS)} {_TOPIC_PHRASES[topic]}."
        speaker = rng.choice(person_ids) if rng.random() < 0.85 else rng.choice(org_ids)
        statement: Doc = {
            "id": f"statement-{number:07d}",
            "speaker": speaker,
            "kind": rng.choice(["direct", "reported"]),
            "quote": quote,
            "topics": [topic],
            "evidence": evidence(rng.choice(source_ids), quote),
        }
        if rng.random() < 0.3:
            statement["event"] = rng.choice(event_ids)
        kb["statements"].append(statement)

    for number in range(3 + people_count // 20000):
        first, second = rng.sample(source_ids, 2)
        value = rng.randint(50, 150)
        kb["figures"].append(
            {
                "id": f"figure-{number}",
                "label": f"Countries counted in tally {number}",
                "aliases": [f"tally {number}"],
                "unit": "countries",
                "values": [
                    {
                        "value": value,
                        "qualifier": "At the close of the ceremony",
                        "source": first,
                        "evidence": evidence(first, f"{value} countries"),
                    },
                    {
                        "value": value - 3,
                        "comparator": "more-than",
                        "qualifier": "Earlier count",
                        "source": second,
                        "evidence": evidence(second, f"more than {value - 3}"),
                    },
                ],
                "headline": value,
                "headline_reason": "The closing-session total.",
            }
        )
    return kb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, required=True, help="number of people (N)")
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    parser.add_argument("--seed", type=int, default=5, help="random seed (default: 5)")
    args = parser.parse_args(argv)
    if args.people < 2:
        parser.error("--people must be at least 2")
    text = json.dumps(build(args.people, args.seed), ensure_ascii=False, indent=1) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
