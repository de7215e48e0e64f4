"""The bundled readable pairs are the first thing a new user judges: each answer must be about
its own question. An answer copied from another item shares more words with that item."""

import json
import re
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "readable_pairs.jsonl"


GENERIC = {"patients", "patient", "clinical", "management", "including", "treatment", "should", "their", "about",
           "which", "there", "these", "other", "several"}


def content_words(text: str) -> set[str]:
    return set(re.findall(r"[a-z][a-z-]{4,}", text.lower())) - GENERIC


def closest_item(answer: str, rows: list[dict]) -> list[str]:
    """The item(s) whose question and abstract share the most words with the answer."""
    overlap = {r["id"]: len(content_words(answer) & content_words(r["question"] + " " + r["context"])) for r in rows}
    best = max(max(overlap.values()), 1)
    return [item for item, count in overlap.items() if count == best]


@pytest.fixture(scope="module")
def rows():
    return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]


def test_every_answer_is_about_its_own_question(rows):
    assert len(rows) == 12
    for row in rows:
        for system, answer in row["outputs"].items():
            assert row["id"] in closest_item(answer, rows), f"{row['id']} {system} reads like another item's answer"


def test_the_check_catches_a_swapped_answer(rows):
    swapped = [dict(rows[0], outputs={"sft": rows[5]["outputs"]["sft"], "dpo": rows[0]["outputs"]["dpo"]}), *rows[1:]]
    assert rows[0]["id"] not in closest_item(swapped[0]["outputs"]["sft"], swapped)
