"""Win rates against independent references (hand computation, scipy, statsmodels)."""

import math

import numpy as np
import pytest
from scipy.stats import beta, binom

from evaluation.winrate import NoJudgments, cluster_bootstrap, excluding_low_gold, gee_win_rate, per_rater, win_rate
from tests.evaluation.conftest import judgment, synthetic_study


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_definitions_and_intervals_hand_computed():
    rows = ([judgment(i, "a", "dpo") for i in range(6)] + [judgment(i, "a", "sft") for i in range(6, 9)]
            + [judgment(9, "a", "tie"), judgment(10, "a", "both_bad")])
    result = win_rate(rows, "dpo")
    assert (result.n, result.wins, result.losses, result.ties, result.both_bad) == (11, 6, 3, 1, 1)
    assert result.rate == pytest.approx(6 / 11)
    assert result.rate_ties_half == pytest.approx((6 + 1) / 11)
    assert result.rate_decisive == pytest.approx(6 / 9)
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson(6, 11))
    assert result.cp_low == pytest.approx(beta.ppf(0.025, 6, 6))  # Clopper-Pearson: beta quantiles
    assert result.cp_high == pytest.approx(beta.ppf(0.975, 7, 5))
    # exact two-sided sign test, by summing binomial probabilities no larger than P(X=6)
    p6 = binom.pmf(6, 9, 0.5)
    expected_p = sum(binom.pmf(k, 9, 0.5) for k in range(10) if binom.pmf(k, 9, 0.5) <= p6 * (1 + 1e-7))
    assert result.sign_test_p == pytest.approx(expected_p)


def test_all_ties_and_empty():
    result = win_rate([judgment(i, "a", "tie") for i in range(4)], "dpo")
    assert result.rate == 0 and result.rate_ties_half == 0.5 and result.rate_decisive is None and result.sign_test_p is None
    with pytest.raises(NoJudgments, match="no judgments"):
        win_rate([], "dpo")


def test_cluster_bootstrap_and_gee_cover_truth():
    rows = synthetic_study(0.63, items=400, raters=4, seed=1)
    for by in ("item_id", "rater"):
        boot = cluster_bootstrap(rows, "dpo", by=by, rounds=2000, seed=0)
        assert boot["ci_low"] < 0.63 < boot["ci_high"]
    gee = gee_win_rate(rows, "dpo", by="rater")
    assert gee["ci_low"] < 0.63 < gee["ci_high"]
    # intercept-only GEE estimates the raw proportion
    assert gee["rate"] == pytest.approx(np.mean([r["preferred_system"] == "dpo" for r in rows]), abs=1e-6)


def test_cluster_bootstrap_is_wider_when_raters_differ():
    # two raters with opposite tastes: clustering by rater must widen the interval
    rows = [judgment(i, "lover", "dpo") for i in range(100)] + [judgment(100 + i, "hater", "sft") for i in range(100)]
    by_item = cluster_bootstrap(rows, "dpo", by="item_id", rounds=2000)
    by_rater = cluster_bootstrap(rows, "dpo", by="rater", rounds=2000)
    assert (by_rater["ci_high"] - by_rater["ci_low"]) > 3 * (by_item["ci_high"] - by_item["ci_low"])


def test_one_physician_gee_degenerates_gracefully():
    rows = synthetic_study(0.6, items=50, raters=1)
    gee = gee_win_rate(rows, "dpo", by="rater")
    assert 0 <= gee["rate"] <= 1


def test_per_rater_and_gold_filter():
    rows = [judgment(i, "good", "dpo") for i in range(4)] + [judgment(i, "bad", "sft") for i in range(4)]
    rows += [judgment("g", "good", "dpo", gold=True, gold_better="dpo"), judgment("g", "bad", "sft", gold=True, gold_better="dpo")]
    table = {r["rater"]: r for r in per_rater(rows, "dpo")}
    assert table["good"]["rate"] == 1.0 and table["bad"]["rate"] == 0.0
    assert table["good"]["gold_accuracy"] == 1.0 and table["bad"]["gold_accuracy"] == 0.0


def test_gold_filter_needs_credible_evidence():
    from scipy.stats import binomtest

    rows = [judgment(f"g{k}", "noisy", "dpo" if k else "sft", gold=True, gold_better="dpo") for k in range(4)]
    rows += [judgment(f"g{k}", "careless", "sft" if k < 6 else "dpo", gold=True, gold_better="dpo") for k in range(10)]
    rows += [judgment(k, r, "dpo") for k in range(3) for r in ("noisy", "careless")]
    kept, dropped = excluding_low_gold(rows, 0.8)
    # 3 of 4 at a 0.8 threshold is not credibly below it; 4 of 10 is (one-sided exact binomial test)
    assert binomtest(3, 4, 0.8, alternative="less").pvalue > 0.05 > binomtest(4, 10, 0.8, alternative="less").pvalue
    assert dropped == ["careless"] and {r["rater"] for r in kept} == {"noisy"}
