"""Documents assembled from the index agree with the KB file, read independently.

Every reverse link a document shows (a person's statements and organisations, an
organisation's people, a source's citing entities, ...) is recomputed here straight from the
KB's JSON, in the KB's order, and compared with what the index assembles. The synthetic KB of
the benchmarks gives hundreds of entities with many links of every kind.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import pytest

from hanoi_cli.index import Store, open_store
from hanoi_cli.models import KnowledgeBase
from tests.conftest import ROOT

KB = dict[str, Any]
SYNTHETIC = ROOT / "benchmarks" / "synthetic_kb.py"


def _synthetic_kb(people: int) -> KB:
    spec = importlib.util.spec_from_file_location("synthetic_kb", SYNTHETIC)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kb: KB = module.build(people, 7)
    return kb


@pytest.fixture(scope="module", params=["real", "synthetic"])
def kb_and_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KB, Store]]:
    directory = tmp_path_factory.mktemp("views")
    if request.param == "real":
        path = ROOT / "data" / "facts.json"
    else:
        path = directory / "kb.json"
        path.write_text(json.dumps(_synthetic_kb(400)), encoding="utf-8")
    # Through the models only to fill in the defaults the file leaves out.
    kb = KnowledgeBase.model_validate_json(path.read_bytes()).model_dump(mode="json")
    store = open_store(path, {"XDG_CACHE_HOME": str(directory / "cache")}, [].append)
    yield kb, store
    store.close()


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _ids(refs: list[dict[str, Any]]) -> list[str]:
    return [ref["id"] for ref in refs]


def _documents(store: Store, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["id"]: doc for doc in store.all_documents(kind)}


def _evidence(entity: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if set(node) == {"source", "quote"}:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(entity)
    return found


def test_people_show_their_statements_organisations_events_and_sources(
    kb_and_store: tuple[KB, Store],
) -> None:
    kb, store = kb_and_store
    documents = _documents(store, "person")
    assert list(documents) == [person["id"] for person in kb["people"]]
    source_order = [source["id"] for source in kb["sources"]]
    for person in kb["people"]:
        doc = documents[person["id"]]
        said = [s for s in kb["statements"] if s["speaker"] == person["id"]]
        assert _ids(doc["statements"]) == [s["id"] for s in said]
        listed = [org["id"] for org in kb["organisations"] if person["id"] in org["people"]]
        titled = [t["organisation"] for t in person["titles"] if t["organisation"]]
        assert _ids(doc["organisations"]) == _unique(listed + titled)
        events = [e for e in kb["events"] if person["id"] in e["participants"]]
        events.sort(key=lambda event: event["date"]["value"])
        assert [event["id"] for event in doc["events"]] == [event["id"] for event in events]
        cited = {item["source"] for item in _evidence(person)}
        cited |= {item["source"] for s in said for item in s["evidence"]}
        assert [s["id"] for s in doc["sources"]] == [s for s in source_order if s in cited]


def test_organisations_show_their_people_and_children(kb_and_store: tuple[KB, Store]) -> None:
    kb, store = kb_and_store
    documents = _documents(store, "organisation")
    for org in kb["organisations"]:
        doc = documents[org["id"]]
        titled = [
            person["id"]
            for person in kb["people"]
            if any(t["organisation"] == org["id"] for t in person["titles"])
        ]
        assert _ids(doc["people"]) == _unique(org["people"] + titled)
        children = [child["id"] for child in kb["organisations"] if child["parent"] == org["id"]]
        assert _ids(doc["children"]) == children
        speakers = {org["id"], *_ids(doc["people"])}
        said = [s["id"] for s in kb["statements"] if s["speaker"] in speakers]
        assert sorted(_ids(doc["statements"])) == sorted(said)


def test_countries_show_their_people_and_organisations(kb_and_store: tuple[KB, Store]) -> None:
    kb, store = kb_and_store
    documents = _documents(store, "country")
    for country in kb["countries"]:
        doc = documents[country["id"]]
        people = []
        for person in kb["people"]:
            if person.get("country") == country["id"]:
                people.append(person["id"])
            people += [person["id"] for t in person["titles"] if t["country"] == country["id"]]
        assert _ids(doc["people"]) == _unique(people + country["representatives"])
        based = [org["id"] for org in kb["organisations"] if org["country"] == country["id"]]
        assert _ids(doc["organisations"]) == based


def test_events_and_sources_show_what_points_at_them(kb_and_store: tuple[KB, Store]) -> None:
    kb, store = kb_and_store
    for event_id, doc in _documents(store, "event").items():
        heard = [s["id"] for s in kb["statements"] if s["event"] == event_id]
        assert [s["id"] for s in doc["statements"]] == heard
    sections = {
        "person": "people",
        "country": "countries",
        "organisation": "organisations",
        "figure": "figures",
        "event": "events",
        "statement": "statements",
    }
    for source_id, doc in _documents(store, "source").items():
        for kind, section in sections.items():
            citing = [
                entity["id"]
                for entity in kb[section]
                if any(item["source"] == source_id for item in _evidence(entity))
            ]
            assert [ref["id"] for ref in doc["taken"][kind]] == citing, (source_id, kind)


def test_statements_name_their_speaker_and_event(kb_and_store: tuple[KB, Store]) -> None:
    kb, store = kb_and_store
    names = {
        entity["id"]: entity.get("name")
        for section in kb.values()
        if isinstance(section, list)
        for entity in section
    }
    documents = _documents(store, "statement")
    for statement in kb["statements"]:
        doc = documents[statement["id"]]
        assert doc["speaker"]["id"] == statement["speaker"]
        assert doc["name"] == doc["speaker"]["name"] == names[statement["speaker"]]
        assert (doc["event"] or {}).get("id") == statement["event"]
        assert doc["quote"] == statement["quote"]
