"""Win rates against independent references (hand computation, scipy, statsmodels)."""

import math

import pytest
from scipy.stats import beta, binom

from evaluation.table import from_rows
from evaluation.winrate import NoJudgments, win_rate_table
from tests.evaluation.conftest import judgment, synthetic_study
from tests.evaluation.reference import excluding_low_gold, per_rater, win_rate


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


def test_win_rate_table_matches_simple_counts_and_covers_truth():
    rows = synthetic_study(0.63, items=400, raters=6, overlap=2, seed=1, tie_share=0.1)
    result = win_rate_table(from_rows(rows), "dpo", rounds=1000)
    simple = win_rate(rows, "dpo")
    assert (result["wins"], result["losses"], result["ties"]) == (simple.wins, simple.losses, simple.ties)
    assert result["intervals"]["all"]["estimate"] == pytest.approx(simple.rate)
    assert result["intervals"]["ties_half"]["estimate"] == pytest.approx(simple.rate_ties_half)
    assert result["intervals"]["decisive"]["estimate"] == pytest.approx(simple.rate_decisive)
    decisive = result["intervals"]["decisive"]
    for name, method in decisive["methods"].items():
        assert method["ci_low"] < 0.63 < method["ci_high"], name


def test_physician_bootstrap_is_wider_when_raters_differ():
    # physicians with opposite tastes: resampling physicians must widen the interval
    rows = [judgment(i, f"lover{i % 3}", "dpo") for i in range(150)] + [judgment(150 + i, f"hater{i % 3}", "sft")
                                                                       for i in range(150)]
    methods = win_rate_table(from_rows(rows), "dpo", rounds=2000)["intervals"]["all"]["methods"]
    by_item, by_rater = methods["bootstrap_item"], methods["bootstrap_rater"]
    assert (by_rater["ci_high"] - by_rater["ci_low"]) > 3 * (by_item["ci_high"] - by_item["ci_low"])
    robust = methods["two_way_robust"]
    assert robust["ci_high"] - robust["ci_low"] > 3 * (by_item["ci_high"] - by_item["ci_low"])


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
