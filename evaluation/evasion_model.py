"""The learned evasion detector's fitted numbers, cached, and its probabilities computed from them
with numpy: a report scores answers without importing scikit-learn or fitting the model again
(together ~1 s of a 2 s report, and 3-14 s when the cores are busy).

The fit itself stays evaluation.evasion.learned_model (scikit-learn, deterministic: same data,
same model). Its numbers (each TF-IDF vocabulary with its idf weights, the logistic regression's
coefficients) are written once to the user's cache folder under a key made of the sha256 of the
development sets, the pattern lists and the scikit-learn version; any change to one of them gives
a new key, so a stale fit is never used. The cache holds plain arrays (numpy .npz without pickle):
nothing in it runs as code. When the folder cannot be written, the fit is kept in memory only.

`probabilities` repeats scikit-learn's transform step by step (analysers, sublinear tf times idf,
l2 row norms, the sparse dot product summed in column order, expit), so its probabilities are the
pipeline's (tests/evaluation/test_evasion_model.py compares them with the fitted pipeline's).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections import Counter
from functools import lru_cache
from importlib import metadata
from itertools import repeat
from pathlib import Path

import numpy as np

from evaluation import evasion

_WORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's default token_pattern
_WHITE_SPACES = re.compile(r"\s\s+")  # what the char_wb analyser folds to one space
FORMAT = "1"  # bump when the stored arrays change meaning


def cache_folder() -> Path:
    """$MEDALIGN_CACHE_DIR, else $XDG_CACHE_HOME/medalign, else ~/.cache/medalign."""
    if os.environ.get("MEDALIGN_CACHE_DIR"):
        return Path(os.environ["MEDALIGN_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medalign"


def fit_key() -> str:
    """What the fit depends on: the development sets' bytes, the patterns (features of the model),
    the scikit-learn version and this file's format."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for path in evasion.DEVELOPMENT_SETS:
        digest.update(path.name.encode() + b"\n" + (path.read_bytes() if path.is_file() else b"<absent>") + b"\n")
    digest.update(json.dumps([evasion.DEFAULT_PATTERNS, evasion.STANCE_PATTERNS, evasion._CONDITIONAL.pattern,
                              evasion._NUMBER.pattern, evasion._SENTENCE_END.pattern]).encode())
    try:
        digest.update(metadata.version("scikit-learn").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"no scikit-learn")
    return digest.hexdigest()


def fitted_arrays(model) -> dict[str, np.ndarray]:
    """The numbers of a fitted evasion.learned_model pipeline, as plain arrays."""
    union, regression = model.steps[0][1], model.steps[-1][1]
    parts = dict(union.transformer_list)
    arrays = {}
    for name in ("words", "chars"):
        vocabulary = parts[name].vocabulary_
        terms = sorted(vocabulary, key=vocabulary.__getitem__)
        arrays[f"{name}_terms"] = np.array(terms, dtype=str)
        arrays[f"{name}_idf"] = np.asarray(parts[name].idf_, dtype=np.float64)
    arrays["coef"] = np.asarray(regression.coef_[0], dtype=np.float64)
    arrays["intercept"] = np.asarray(regression.intercept_, dtype=np.float64)
    return arrays


def _store(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from data.files import write_atomic

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError:  # a read-only home: the fit stays in memory for this process
        pass


@lru_cache(maxsize=1)
def fitted() -> dict:
    """The fitted numbers: from the cache when its key matches, else fitted now and cached."""
    path = cache_folder() / f"evasion-{fit_key()}.npz"
    arrays = None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError, KeyError):  # a damaged cache file is fitted again and replaced
            arrays = None
    if arrays is None:
        arrays = fitted_arrays(evasion.learned_model())
        _store(path, arrays)
    return {"words": {t: i for i, t in enumerate(arrays["words_terms"].tolist())}, "words_idf": arrays["words_idf"],
            "chars": {t: i for i, t in enumerate(arrays["chars_terms"].tolist())}, "chars_idf": arrays["chars_idf"],
            "coef": arrays["coef"], "intercept": float(arrays["intercept"][0])}


def _word_terms(text: str) -> list[str]:
    tokens = _WORD_TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def _char_terms(text: str) -> list[str]:
    """char_wb n-grams of 3-5 characters, each word padded with a space (scikit-learn's rule:
    a word shorter than n gives one n-gram, itself, and no longer ones)."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        word = f" {word} "
        size = len(word)
        for n in (3, 4, 5):
            if size <= n:
                grams.append(word)
                break
            grams += [word[i:i + n] for i in range(size - n + 1)]
    return grams


def _tfidf(texts: list[str], terms, vocabulary: dict, idf: np.ndarray, offset: int):
    """(row, column, value) of the l2-normalised sublinear TF-IDF rows, columns ascending in each row."""
    found = vocabulary.get
    rows, columns, counts = [], [], []
    for row, text in enumerate(texts):
        counted = Counter(terms(text))  # counted in C; then each distinct term looked up once
        columns += map(found, counted, repeat(-1))
        counts += counted.values()
        rows += repeat(row, len(counted))
    rows, columns = np.array(rows, dtype=np.int64), np.array(columns, dtype=np.int64)
    counts = np.array(counts, dtype=np.float64)
    known = columns >= 0
    rows, columns, counts = rows[known], columns[known], counts[known]
    order = np.lexsort((columns, rows))
    rows, columns = rows[order], columns[order]
    values = np.log(counts[order]) + 1.0
    values *= idf[columns]
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
    values /= norms[rows]
    return rows, columns + offset, values


def _char_tfidf(texts: list[str], vocabulary: dict, idf: np.ndarray, offset: int):
    """_tfidf(texts, _char_terms, ...) with the same numbers, built per distinct word: char_wb
    n-grams never cross a word, so each word's known n-grams are found once (answers repeat their
    words) and each text's counts are its words' counts times theirs, summed with numpy."""
    found = vocabulary.get
    word_ids: dict[str, int] = {}
    starts, grams, multiplicity = [0], [], []  # per word id: its known columns and how often each occurs
    rows, words, times = [], [], []
    for row, text in enumerate(texts):
        counted = Counter(_WHITE_SPACES.sub(" ", text.lower()).split())
        for word, count in counted.items():
            code = word_ids.get(word)
            if code is None:
                code = word_ids[word] = len(word_ids)
                known = Counter(c for c in map(found, _char_terms(word), repeat(-1)) if c >= 0)
                grams += known
                multiplicity += known.values()
                starts.append(len(grams))
            words.append(code)
            times.append(count)
        rows += repeat(row, len(counted))
    starts, words = np.array(starts, dtype=np.int64), np.array(words, dtype=np.int64)
    lengths = starts[words + 1] - starts[words]
    # every (text, word, n-gram) triple: the word's n-grams laid out one after another
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.repeat(starts[words], lengths) + within
    keys = np.repeat(np.array(rows, dtype=np.int64), lengths) * len(idf) + np.array(grams, dtype=np.int64)[position]
    counts = np.repeat(np.array(times, dtype=np.int64), lengths) * np.array(multiplicity, dtype=np.int64)[position]
    keys, summed = np.unique(keys, return_inverse=True)  # sorted: by row, then column, as _tfidf orders them
    counts = np.bincount(summed, weights=counts, minlength=len(keys))
    rows, columns = keys // len(idf), keys % len(idf)
    values = np.log(counts) + 1.0
    values *= idf[columns]
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
    values /= norms[rows]
    return rows, columns + offset, values


def probabilities(texts: list[str]) -> np.ndarray:
    """Probability that each answer is evasive, as the fitted pipeline's predict_proba gives it."""
    from scipy.special import expit

    model = fitted()
    n_words, n_chars = len(model["words"]), len(model["chars"])
    words = _tfidf(texts, _word_terms, model["words"], model["words_idf"], 0)
    chars = _char_tfidf(texts, model["chars"], model["chars_idf"], n_words)
    findings = evasion.stated_findings(texts)  # the slowest pattern: once for both feature groups
    dense = np.hstack([evasion.pattern_features(texts, findings), evasion.shape_features(texts, findings)])
    dense_rows, dense_columns = np.nonzero(dense)
    parts = [words, chars, (dense_rows, dense_columns + n_words + n_chars, dense[dense_rows, dense_columns])]
    rows = np.concatenate([p[0] for p in parts])
    columns = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts])
    order = np.argsort(rows, kind="stable")  # row by row, each row's columns ascending: the sparse product's order
    contributions = values[order] * model["coef"][columns[order]]
    decision = np.bincount(rows[order], weights=contributions, minlength=len(texts)) + model["intercept"]
    return expit(decision)
