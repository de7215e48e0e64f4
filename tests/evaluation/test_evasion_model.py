"""The learned evasion detector scored from its cached numbers (evaluation/evasion_model.py) gives
scikit-learn's own probabilities, and its pattern features (lowercased ASCII twins of the patterns)
match the IGNORECASE patterns as written; the cache is keyed by the data and refitted when damaged."""

from __future__ import annotations

import random
import re
import shutil

import numpy as np
import pytest

from evaluation import evasion, evasion_model

ODD = ["", " ", "a", "I", "x  y\n\tz", "İstanbul: the Kelvin sign K and a long s ſ", "NO. It DID NOT help.",
       "Whether it helps is UNCLEAR; consult YOUR doctor.", "It depends.\u2014 Maybe — maybe not", "ok ok ok ok",
       "Café patients: 95% CI 0.61, 0.93 (p < 0.01)", "\u00c9tude: no difference", "yes, IT REDUCED mortality"]


def _texts() -> list[str]:
    """Labelled answers of every set, odd cases, and sentences mixed from them with random capitals."""
    rows = evasion.development_rows() + evasion.load_labelled(evasion.TEST_SET)
    texts = [r["text"] for r in rows] + ODD
    rng = random.Random(0)
    words = " ".join(texts).split()
    for _ in range(300):
        mixed = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        texts.append("".join(c.upper() if rng.random() < 0.2 else c for c in mixed))
    return texts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDALIGN_CACHE_DIR", str(tmp_path / "cache"))
    evasion_model.fitted.cache_clear()
    yield tmp_path / "cache"
    evasion_model.fitted.cache_clear()


def test_probabilities_are_scikit_learns(cache):
    texts = _texts()
    reference = evasion.learned_model().predict_proba(texts)[:, 1]
    mine = evasion_model.probabilities(texts)
    np.testing.assert_allclose(mine, reference, rtol=0, atol=1e-12)
    assert np.array_equal(mine >= evasion.LEARNED_THRESHOLD, reference >= evasion.LEARNED_THRESHOLD)


def test_features_match_the_patterns_as_written():
    texts = _texts()
    written = {name: re.compile(regex.pattern, re.IGNORECASE) for name, regex in evasion._SIGNALS.items()}
    stance = re.compile(evasion._STANCE.pattern, re.IGNORECASE)
    conditional = re.compile(evasion._CONDITIONAL.pattern, re.IGNORECASE)
    findings = [len(stance.findall(conditional.sub(" ", t))) for t in texts]
    expected = np.array([[bool(written[name].search(t)) for name in written] + [n > 0]
                         for t, n in zip(texts, findings, strict=True)], dtype=float)
    assert evasion.stated_findings(texts) == findings
    assert np.array_equal(evasion.pattern_features(texts), expected)
    assert all(twin is not None for twin in evasion._FAST.values())  # the fast path is really taken
    assert sum(needs is not None for needs in evasion._PREFILTER.values()) >= 2  # and the literal check before it


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"\bit (?:really )?depends\b", {"depends"}), (r"abc|de", {"abc", "de"}), (r"x?yz", {"yz"}),
    (r"^\s*(?:no|nope)\b", {"no"}), (r"\b(?:cannot|can't|could not) be", {"annot", "an't", "ould not"}),
    (r"(?:foo)+\d", {"foo"}), (r"\w+", None), (r"ab|\d", None), (r"(?:ab)?", None), (r"(?i:abc)d", {"d"})])
def test_required_literals_of_a_pattern(pattern, expected):
    from re import _parser

    assert evasion.required_literals(_parser.parse(pattern)) == expected


def test_every_match_holds_a_required_literal():
    """The check before each search is sound: on every labelled answer and mixed sentence, a text
    a lowercase twin matches contains one of the literals required_literals gives for it."""
    from re import _parser

    lowered = [t.lower() for t in _texts() if t.isascii()]
    for twin in evasion._FAST.values():
        needs = evasion.required_literals(_parser.parse(twin.pattern, twin.flags))
        matched = [t for t in lowered if twin.search(t)]
        assert needs and matched and all(any(w in t for w in needs) for t in matched)


def test_the_fit_is_cached_once_and_read_back(cache, monkeypatch):
    first = evasion_model.probabilities(ODD)
    stored = list(cache.glob("evasion-*.npz"))
    assert len(stored) == 1 and evasion_model.fit_key() in stored[0].name
    evasion_model.fitted.cache_clear()
    monkeypatch.setattr(evasion, "learned_model", lambda: pytest.fail("refitted although the cache matches"))
    assert np.array_equal(evasion_model.probabilities(ODD), first)


def test_a_damaged_cache_is_refitted_and_a_change_of_data_gives_a_new_key(cache, tmp_path, monkeypatch):
    evasion_model.probabilities(ODD)
    (stored,) = cache.glob("evasion-*.npz")
    stored.write_bytes(b"not a numpy file")
    evasion_model.fitted.cache_clear()
    assert evasion_model.probabilities(ODD).shape == (len(ODD),)
    assert stored.read_bytes().startswith(b"PK")  # replaced by a good one
    key = evasion_model.fit_key()
    changed = tmp_path / "dev.jsonl"
    shutil.copyfile(evasion.DEVELOPMENT_SETS[-1], changed)
    changed.write_text(changed.read_text() + '{"text": "One more answer.", "evasive": false}\n')
    monkeypatch.setattr(evasion, "DEVELOPMENT_SETS", (*evasion.DEVELOPMENT_SETS[:-1], changed))
    assert evasion_model.fit_key() != key


def test_an_unwritable_cache_folder_still_scores(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("MEDALIGN_CACHE_DIR", str(blocker / "cache"))
    evasion_model.fitted.cache_clear()
    try:
        assert evasion_model.probabilities(ODD).shape == (len(ODD),)
    finally:
        evasion_model.fitted.cache_clear()


def test_char_ngrams_per_distinct_word_are_the_per_text_ones(cache):
    """The word-by-word char n-gram TF-IDF gives the same rows, columns and values, bit for bit, as
    counting every text's n-grams directly."""
    texts = _texts()
    model = evasion_model.fitted()
    direct = evasion_model._tfidf(texts, evasion_model._char_terms, model["chars"], model["chars_idf"], 5)
    by_word = evasion_model._char_tfidf(texts, model["chars"], model["chars_idf"], 5)
    for mine, reference in zip(by_word, direct, strict=True):
        assert mine.shape == reference.shape and np.array_equal(mine, reference)
