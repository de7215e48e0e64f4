"""Answers parsed from a model's free text: an option letter, or a label from a set.

A model rarely writes just "C": it writes "The answer is (C) Ceftriaxone", "Option C.",
"Ceftriaxone", "yes, because...". The rules, in order, are deterministic and documented so that
a reader can predict the result; anything they cannot resolve is None (unparseable), which the
metrics count and score as wrong, never drop.

Options: an explicit "answer/option/choice (is) X"; a leading "X." / "X)" / "(X)" / lone "X";
a parenthesised "(X)" anywhere; else the option whose text is mentioned first.
Labels: the label whose name or synonym is mentioned first (whole words, case, spacing and
punctuation ignored); at the same position the longest spelling wins ("non-urgent" over "urgent").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence


def _words(text: str) -> str:
    """Case-folded, every run of non-alphanumerics one space, padded so ' w ' finds whole words."""
    return " " + re.sub(r"[\W_]+", " ", text.casefold()).strip() + " "


def _first_mention(text: str, spellings: Mapping[str, str]) -> str | None:
    """The value of the spelling found first in text (whole words); longest spelling on ties."""
    haystack = _words(text)
    best: tuple[int, int, str] | None = None
    for spelling, value in spellings.items():
        needle = _words(spelling)
        if needle.strip() == "":
            continue
        at = haystack.find(needle)
        if at < 0:
            continue
        candidate = (at, -len(needle), value)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    return best[2] if best else None


def parse_option(text: str, options: Mapping[str, str]) -> str | None:
    """The option letter a free-text answer chooses, or None. `options`: {"A": text, ...}."""
    if not text or not text.strip():
        return None
    letters = "".join(re.escape(letter) for letter in options)
    klass = f"[{letters}]"
    # The letter is case-sensitive: "the answer is a rash" names no option.
    explicit = re.search(rf"\b(?i:answer|option|choice)\s*(?i:is|:)?\s*(?i:option\s*)?\(?({klass})\b(?![-'])", text)
    if explicit:
        return explicit.group(1)
    stripped = text.strip()
    # A leading letter needs punctuation after it or nothing at all: "A 64-year-old..." is an article.
    leading = re.match(rf"^\(?({klass})(?:\s*[.):\]]|\s*$)", stripped)
    if leading:
        return leading.group(1)
    bracketed = re.search(rf"\(({klass})\)", stripped)
    if bracketed:
        return bracketed.group(1)
    return _first_mention(stripped, {option_text: letter for letter, option_text in options.items()})


def label_spellings(labels: Sequence[tuple[str, Sequence[str]]]) -> dict[str, str]:
    """{spelling: label name} for [(name, synonyms), ...]."""
    spellings = {}
    for name, synonyms in labels:
        spellings[name] = name
        for synonym in synonyms:
            spellings[synonym] = name
    return spellings


def parse_label(text: str, labels: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """The label a free-text answer names first, or None. `labels`: [(name, synonyms), ...]."""
    if not text or not text.strip():
        return None
    return _first_mention(text, label_spellings(labels))


def answer_set(task: Mapping) -> list[str]:
    """What a label or option task's answers are drawn from: label names or option letters."""
    if task["output"] == "option":
        return list(task["options"])
    return [label["name"] for label in task["labels"]]


def parse_answer(task: Mapping, text: str, options: Mapping[str, str] | None = None) -> str | None:
    """A task's answer from free text: label name, option letter, or None (unparseable).
    Free-text tasks have nothing to parse: the text itself is the answer."""
    if task["output"] == "option":
        return parse_option(text, options or {letter: "" for letter in task["options"]})
    if task["output"] == "label":
        return parse_label(text, [(label["name"], label.get("synonyms", [])) for label in task["labels"]])
    return text
