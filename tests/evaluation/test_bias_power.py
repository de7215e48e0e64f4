import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import binom, binomtest
from statsmodels.stats.contingency_tables import StratifiedTable

from evaluation.bias import length_difference
from evaluation.power import exact_n, exact_power, normal_approximation_n, sample_size
from tests.evaluation.conftest import judgment
from tests.evaluation.reference import length_bias, position_bias


def test_position_bias_raw_share_against_binomtest():
    rows = [judgment(i, "r", "sft", left="sft") for i in range(30)] + [judgment(i, "r", "dpo", left="sft") for i in range(10)]
    rows += [judgment(100 + i, "r", "dpo", left="dpo") for i in range(12)] + [judgment(200 + i, "r", "sft", left="dpo")
                                                                           for i in range(8)]
    result = position_bias(rows + [judgment(99, "r", "tie")])
    assert (result["n"], result["left_wins"]) == (60, 42)
    # one physician: the design-aware test has no physician variation to rest on and says nothing;
    # the independence tests are kept for the appendix
    assert result["p_value"] is None
    assert result["independent"]["binomial_p_value"] == pytest.approx(binomtest(42, 60, 0.5).pvalue)
    # stratified: dpo is "first"; dpo left: 12 of 20 won, dpo right (sft left): 10 of 40 won
    reference = StratifiedTable([[[12, 8], [10, 30]]])
    assert result["independent"]["mh_odds_ratio"] == pytest.approx(reference.oddsratio_pooled)
    assert result["independent"]["cmh_p_value"] == pytest.approx(reference.test_null_odds().pvalue)
    assert result["balanced_left_share"] == pytest.approx(0.5 * (12 / 20 + 30 / 40))


def test_position_not_confounded_by_unbalanced_sides():
    # sft always wins and sits on the left 3 times in 4: the raw left share says 0.75, but there is no position effect
    rows = [judgment(i, "r", "sft", left="sft") for i in range(30)] + [judgment(50 + i, "r", "sft", left="dpo")
                                                                      for i in range(10)]
    result = position_bias(rows)
    assert result["left_share"] == pytest.approx(0.75)
    assert result["balanced_left_share"] == pytest.approx(0.5)
    assert result["left_advantage_points"] == pytest.approx(0.0)


def test_position_tests_have_the_design_of_the_headline():
    """Left share and the stratified regression against statsmodels' two-way clustered Logit, with
    t on effective physicians - 1 df."""
    from scipy.stats import t as t_dist

    rng = np.random.default_rng(5)
    rows = []
    for i in range(240):
        left = "dpo" if rng.random() < 0.5 else "sft"
        p_dpo = 1 / (1 + np.exp(-(0.4 + (0.3 if left == "dpo" else -0.3))))
        rows.append(judgment(i // 2, f"r{i % 7}", "dpo" if rng.random() < p_dpo else "sft", left=left))
    result = position_bias(rows)
    won_left = np.array([r["preferred_system"] == r["system_a"] for r in rows], float)
    dpo_left = np.array([r["system_a"] == "dpo" for r in rows], float) - 0.5
    y = np.array([r["preferred_system"] == "dpo" for r in rows], float)
    groups = np.column_stack([[int(r["rater"][1:]) for r in rows], [int(r["item_id"]) for r in rows]])
    fit = sm.Logit(y, np.column_stack([np.ones(len(y)), dpo_left])).fit(disp=0, cov_type="cluster",
                                                                        cov_kwds={"groups": groups})
    counts = np.bincount(groups[:, 0])
    df = counts.sum() ** 2 / (counts ** 2).sum() - 1  # Kish effective physicians - 1
    assert np.log(result["odds_ratio_left"]) == pytest.approx(fit.params[1], rel=1e-6)
    assert result["odds_ratio_p_value"] == pytest.approx(2 * t_dist.sf(abs(fit.params[1] / fit.bse[1]), df), rel=1e-6)
    share = sm.OLS(won_left, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    m = won_left.mean()
    assert result["p_value"] == pytest.approx(
        2 * t_dist.sf(abs(np.log(m / (1 - m))) / (share.bse[0] / (m * (1 - m))), df), rel=1e-6)


def length_rows(seed=0, n=300, raters=6):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        la, lb = rng.integers(3, 40, size=2)
        a_text, b_text = " ".join(["w"] * la), " ".join(["w"] * lb)
        diff_dpo = length_difference(b_text, a_text)  # dpo is on the right
        p = 1 / (1 + np.exp(-(0.3 + 2.0 * diff_dpo)))
        rows.append(judgment(i // 2, f"r{i % raters}", "dpo" if rng.random() < p else "sft", left="sft",
                             answers=(a_text, b_text)))
    return rows


def test_length_bias_against_statsmodels_two_way_clustered_logit():
    rows = length_rows()
    result = length_bias(rows, "dpo")
    x = np.array([length_difference(r["answer_b"], r["answer_a"]) for r in rows])
    y = np.array([r["preferred_system"] == "dpo" for r in rows], dtype=float)
    groups = np.column_stack([[int(r["rater"][1:]) for r in rows], [int(r["item_id"]) for r in rows]])
    fit = sm.Logit(y, sm.add_constant(x)).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    assert result["coefficient"] == pytest.approx(fit.params[1], rel=1e-6)
    assert result["length_controlled_win_rate"] == pytest.approx(1 / (1 + np.exp(-fit.params[0])), rel=1e-6)
    assert result["coefficient_se"] == pytest.approx(fit.bse[1], rel=1e-6)
    assert result["coefficient"] > 0 and result["longer_share"] > 0.5
    assert result["lc_ci_low"] < result["length_controlled_win_rate"] < result["lc_ci_high"]
    assert result["scale"].startswith("decisive votes")


def test_power_matches_published_rule_of_thumb():
    # evaluation-practice notes: ~194 for 0.60, 85 for 0.65, 47 for 0.70 (normal approximation)
    assert [normal_approximation_n(p) for p in (0.60, 0.65, 0.70)] == [194, 85, 47]
    assert sample_size(0.37)["normal_approximation"] == normal_approximation_n(0.63)
    with pytest.raises(ValueError):
        sample_size(0.5)


def test_exact_n_is_where_power_stays_above_target():
    # by brute force with binomtest-defined rejection regions: 0.55 first reaches 0.8 at 807 but only stays from 820
    def brute_power(n, p):
        reject = [k for k in range(n + 1) if binomtest(k, n, 0.5).pvalue <= 0.05]
        return sum(binom.pmf(k, n, p) for k in reject)

    assert exact_n(0.55) == 820
    assert brute_power(819, 0.55) < 0.8 <= brute_power(820, 0.55)
    assert all(exact_power(n, 0.55) >= 0.8 for n in range(820, 3000))
    assert brute_power(807, 0.55) >= 0.8
    n = exact_n(0.63)
    assert exact_power(n - 1, 0.63) < 0.8 and all(exact_power(m, 0.63) >= 0.8 for m in range(n, 4 * n))


def test_exact_power_by_enumeration():
    n, p = 20, 0.7
    reject = [k for k in range(n + 1) if binomtest(k, n, 0.5).pvalue <= 0.05]
    assert exact_power(n, p) == pytest.approx(sum(binom.pmf(k, n, p) for k in reject))


def test_position_strata_of_three_systems_against_counting_rows():
    """Each compared pair's 2 x 2 table (first system left?, won?) and the pooled Mantel-Haenszel
    figures, against tables counted row by row and statsmodels' StratifiedTable."""
    rng = np.random.default_rng(11)
    systems, rows = ("base", "dpo", "sft"), []
    for i in range(400):
        x, y = rng.choice(3, 2, replace=False)
        row = judgment(i // 3, f"r{i % 6}", "sft")
        preferred = systems[x] if rng.random() < 0.55 else systems[y]
        row.update(system_a=systems[x], system_b=systems[y], preferred_system=preferred,
                   choice="a" if preferred == systems[x] else "b")
        rows.append(row)
    rows[0].update(choice="tie", preferred_system="")
    result = position_bias(rows)
    expected = {}
    for row in rows[1:]:
        first, second = sorted((row["system_a"], row["system_b"]))
        table = expected.setdefault((first, second), np.zeros((2, 2)))
        table[0 if row["system_a"] == first else 1, 0 if row["preferred_system"] == first else 1] += 1
    assert [tuple(s["systems"]) for s in result["strata"]] == sorted(expected)
    for entry in result["strata"]:
        t = expected[tuple(entry["systems"])]
        assert (entry["n"], entry["first_left"], entry["first_right"]) == (t.sum(), t[0].sum(), t[1].sum())
        assert entry["balanced_left_share"] == pytest.approx(0.5 * (t[0, 0] / t[0].sum() + t[1, 1] / t[1].sum()))
    reference = StratifiedTable([expected[k] for k in sorted(expected)])
    assert result["independent"]["mh_odds_ratio"] == pytest.approx(reference.oddsratio_pooled)
    assert result["independent"]["cmh_p_value"] == pytest.approx(reference.test_null_odds().pvalue)
