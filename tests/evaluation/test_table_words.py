"""evaluation.table.word_counts counts what the regular expression WORD_PATTERN counts."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evaluation.table import WORD_PATTERN, word_counts


def _regex(texts) -> np.ndarray:
    return pc.count_substring_regex(texts, WORD_PATTERN).to_numpy(zero_copy_only=False)


def test_word_counts_equal_the_regular_expression():
    rng = np.random.default_rng(0)
    alphabet = [*" \t\n\r\f\vab,.-'\"x", "", "  ", "é", "\u00a0", "\u2003", "\u3000", "\x85", "日本"]
    texts = ["", " ", "a", " a", "a ", "a b", "\u00a0x y", "x\u2003y", "", "- a\n- b"]
    texts += ["".join(rng.choice(alphabet, rng.integers(0, 30))) for _ in range(3000)] + ["", "x"]
    array = pa.array(texts)
    assert np.array_equal(word_counts(array), _regex(array))
    assert np.array_equal(word_counts(array.cast(pa.large_string())), _regex(array))
    for offset, length in ((5, 1000), (0, 3), (3005, 7), (1, 0), (0, 1)):
        part = array.slice(offset, length)
        assert np.array_equal(word_counts(part), _regex(part)), (offset, length)
    assert word_counts(pa.array(["", ""])).tolist() == [0, 0] and len(word_counts(pa.array([], pa.string()))) == 0
    with_null = pa.array(["a b", None, "c"])
    assert np.array_equal(word_counts(with_null), _regex(with_null), equal_nan=True)
