"""The planner's power is the report's own headline test, checked against an independent
simulation (its own assignment code, statsmodels' two-way clustered standard error, Kish's
effective number of physicians by hand)."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit, logit

from evaluation import power


def independent_power(expected, physicians, items, overlap, studies, seed, sd_p=0.5, sd_i=1.0):
    rng = np.random.default_rng(seed)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    sd = np.hypot(sd_p, sd_i)
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if weights @ expit(mid + sd * nodes) / weights.sum() < expected else (low, mid)
    mu = (low + high) / 2
    rejected = 0
    for _ in range(studies):
        raters = np.concatenate([rng.permutation(physicians)[:overlap] for _ in range(items)])
        item = np.repeat(np.arange(items), overlap)
        y = (rng.random(len(raters)) < expit(mu + sd_p * rng.standard_normal(physicians)[raters]
                                              + sd_i * rng.standard_normal(items)[item])).astype(float)
        p = y.mean()
        if p in (0, 1):
            continue
        fit = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([raters, item])})
        counts = np.bincount(raters)
        df = counts.sum() ** 2 / (counts ** 2).sum() - 1
        t = logit(p) / (fit.bse[0] / (p * (1 - p)))
        rejected += 2 * stats.t.sf(abs(t), df) < 0.05
    return rejected / studies


@pytest.mark.slow
@pytest.mark.parametrize("physicians, items", [(5, 100), (20, 100)])
def test_planner_power_matches_an_independent_simulation(physicians, items):
    studies = 400
    ours = power.headline_power(0.63, physicians, items, 3, studies=studies, seed=1)
    theirs = independent_power(0.63, physicians, items, 3, studies, seed=99)
    se = np.sqrt(ours["power"] * (1 - ours["power"]) / studies + theirs * (1 - theirs) / studies)
    assert abs(ours["power"] - theirs) < 3 * se, (ours["power"], theirs)
    assert ours["mc_se"] == pytest.approx(np.sqrt(ours["power"] * (1 - ours["power"]) / studies))


def test_few_physicians_never_reach_the_target_and_it_is_said_in_words():
    plan = power.plan_design(0.55, 0.8, physicians=5, overlap=3, studies=40, search_studies=40)
    (row,) = plan["rows"]
    assert row["items"] is None and "no number of items" in row["text"] and "add physicians" in row["text"]


def test_power_refuses_impossible_designs():
    with pytest.raises(ValueError, match="overlap"):
        power.headline_power(0.63, 2, 10, 3, studies=5)
    with pytest.raises(ValueError, match="expected"):
        power.headline_power(0.5, 5, 10, 3, studies=5)


@pytest.mark.slow
def test_pilot_variance_components_recover_the_simulated_ones():
    rng = np.random.default_rng(4)
    raters, items, won, _ = power.simulate_study(rng, 0.6, 12, 80, 3, sd_physician=0.8, sd_item=1.2)
    found = power.variance_components(raters, items, won)
    assert 0.35 < found["sd_physician"] < 1.6 and 0.6 < found["sd_item"] < 2.0
    total = found["sd_physician"] ** 2 + found["sd_item"] ** 2 + np.pi ** 2 / 3
    assert found["icc_physician"] == pytest.approx(found["sd_physician"] ** 2 / total)


def test_power_command_prints_the_headline_power_and_labels_the_binomial_n():
    from typer.testing import CliRunner

    from medalign.cli import app

    result = CliRunner().invoke(app, ["report", "power", "--expected", "0.63", "--physicians", "20", "--items", "100",
                                      "--overlap", "3", "--studies", "100", "--seed", "3"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    expected = power.headline_power(0.63, 20, 100, 3, studies=100, seed=3)["power"]
    assert f"power {expected:.2f}" in text and "100 simulated studies, seed 3" in text
    assert "one physician judging independent items: 128 decisive judgments" in text
    bad = CliRunner().invoke(app, ["report", "power", "--expected", "0.63", "--physicians", "5"])
    assert bad.exit_code != 0 and "--items" in bad.output


@pytest.mark.slow
def test_power_command_plans_with_a_pilots_variance(tmp_path):
    import json

    from typer.testing import CliRunner

    from medalign.cli import app
    from tests.evaluation.conftest import synthetic_study

    rows = synthetic_study(0.63, items=60, raters=6, overlap=2, seed=2)
    pilot = tmp_path / "pilot.jsonl"
    pilot.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["report", "power", "--expected", "0.63", "--physicians", "10", "--items", "50",
                                      "--pilot", str(pilot), "--studies", "50"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "intraclass correlation physicians" in text and "power " in text
