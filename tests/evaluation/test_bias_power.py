import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import binomtest

from evaluation.bias import length_bias, length_difference, position_bias
from evaluation.power import exact_n, exact_power, normal_approximation_n, sample_size
from tests.evaluation.conftest import judgment


def test_position_bias_against_binomtest():
    rows = [judgment(i, "r", "sft", left="sft") for i in range(30)] + [judgment(i, "r", "sft", left="dpo") for i in range(10)]
    result = position_bias(rows + [judgment(99, "r", "tie")])
    assert (result["n"], result["left_wins"]) == (40, 30)
    assert result["p_value"] == pytest.approx(binomtest(30, 40, 0.5).pvalue)


def test_length_bias_against_statsmodels_logit():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(200):
        la, lb = rng.integers(3, 40, size=2)
        a_text, b_text = " ".join(["w"] * la), " ".join(["w"] * lb)
        diff_dpo = length_difference(b_text, a_text)  # dpo is on the right
        p = 1 / (1 + np.exp(-(0.3 + 2.0 * diff_dpo)))
        rows.append(judgment(i, "r", "dpo" if rng.random() < p else "sft", left="sft", answers=(a_text, b_text)))
    result = length_bias(rows, "dpo")
    x = np.array([length_difference(r["answer_b"], r["answer_a"]) for r in rows])
    y = np.array([r["preferred_system"] == "dpo" for r in rows], dtype=float)
    fit = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
    assert result["coefficient"] == pytest.approx(fit.params[1])
    assert result["length_controlled_win_rate"] == pytest.approx(1 / (1 + np.exp(-fit.params[0])))
    assert result["coefficient"] > 0 and result["longer_share"] > 0.5


def test_power_matches_published_rule_of_thumb():
    # evaluation-practice notes: ~194 for 0.60, 85 for 0.65, 47 for 0.70 (normal approximation)
    assert [normal_approximation_n(p) for p in (0.60, 0.65, 0.70)] == [194, 85, 47]
    n = exact_n(0.63)
    assert exact_power(n, 0.63) >= 0.8 and n >= normal_approximation_n(0.63)
    assert sample_size(0.37)["normal_approximation"] == normal_approximation_n(0.63)
    with pytest.raises(ValueError):
        sample_size(0.5)


def test_exact_power_by_enumeration():
    from scipy.stats import binom

    n, p = 20, 0.7
    reject = [k for k in range(n + 1) if binomtest(k, n, 0.5).pvalue <= 0.05]
    assert exact_power(n, p) == pytest.approx(sum(binom.pmf(k, n, p) for k in reject))
