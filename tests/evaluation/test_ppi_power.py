"""The judge planner (`report power --judge-agreement`): its judge agrees with a physician as often
as asked (checked by counting in an independent simulation), its ceiling is the physicians' own
majority agreement (checked by simulating many physicians per item), and its PPI intervals keep
their coverage, and a judge at chance saves no physician judgments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from evaluation import power
from evaluation.ppi_power import Design, judge_accuracy, majority_agreement, plan_judge, simulate_share


def design(agreement=0.65, **kw):
    base = dict(expected=0.63, physicians=8, items=120, overlap=3, judge_agreement=agreement, sd_physician=0.5,
                sd_item=1.0)
    return Design(**(base | kw))


def independent_majority_agreement(expected, sd_p, sd_i, seed=5, items=4000, physicians=401):
    """Each item judged by 401 physicians: their majority, then how often one more physician agrees."""
    rng = np.random.default_rng(seed)
    mu = power.intercept_for(expected, float(np.hypot(sd_p, sd_i)))
    logit = mu + sd_i * rng.standard_normal(items)
    votes = rng.random((items, physicians)) < expit(logit[:, None] + sd_p * rng.standard_normal((items, physicians)))
    majority = votes[:, :-1].mean(axis=1) > 0.5
    return float(np.mean(votes[:, -1] == majority))


@pytest.mark.parametrize("sd_p, sd_i", [(0.5, 1.0), (0.3, 2.0)])
def test_ceiling_is_how_often_a_physician_agrees_with_the_majority(sd_p, sd_i):
    ours = majority_agreement(design(sd_physician=sd_p, sd_item=sd_i))
    theirs = independent_majority_agreement(0.63, sd_p, sd_i)
    assert abs(ours - theirs) < 3 * np.sqrt(theirs * (1 - theirs) / 4000) + 0.005, (ours, theirs)


@pytest.mark.parametrize("agreement", [0.55, 0.66])
def test_simulated_judge_agrees_with_physicians_as_asked(agreement):
    d = design(agreement)
    row = simulate_share(d, 0.5, studies=60, seed=2)
    votes = 60 * 60 * 3
    assert abs(row["realised_agreement"] - agreement) < 4 * np.sqrt(agreement * (1 - agreement) / votes)


def test_a_judge_above_the_physicians_own_agreement_is_refused():
    d = design(0.9)
    with pytest.raises(ValueError, match="at most 0.69"):
        judge_accuracy(d)


def test_chance_judge_saves_nothing_and_a_good_judge_keeps_coverage():
    chance = plan_judge(design(0.5), (1.0, 0.5), studies=200, seed=1)
    half = chance["rows"][1]
    # a judge at chance narrows nothing beyond tuning lambda on noise (a few per cent)
    assert half["ppi"]["width"] > 0.95 * half["physicians_only"]["width"]
    assert half["ppi"]["width"] > chance["all_items_physicians_only"]["width"]
    assert "saves no physician time" in chance["verdict"]
    good = plan_judge(design(0.69), (1.0, 0.5), studies=300, seed=1)
    row = good["rows"][1]
    assert row["ppi"]["width"] < row["physicians_only"]["width"]
    se = np.sqrt(0.95 * 0.05 / 300)
    assert abs(row["ppi"]["coverage"] - 0.95) < 4 * se + 0.01


def test_power_command_with_a_judge_prints_the_table_and_refuses_in_words():
    from medalign.cli import app

    ok = CliRunner().invoke(app, ["report", "power", "--expected", "0.63", "--physicians", "8", "--items", "60",
                                  "--judge-agreement", "0.66", "--shares", "1,0.5", "--studies", "40"])
    assert ok.exit_code == 0, ok.output
    text = " ".join(ok.output.split())
    assert "share | physician judgments" in text and "0.50 | 90 |" in text and "the report's PPI code" in text
    assert "assumed: physicians share the work evenly" in text
    for args, message in ((["--judge-agreement", "0.95"], "more often than the physicians' majority"),
                          (["--judge-agreement", "0.6", "--shares", "1,x"], "--shares"),
                          (["--judge-agreement", "0.6", "--shares", "0"], "between 0 (excluded) and 1")):
        bad = CliRunner().invoke(app, ["report", "power", "--expected", "0.63", "--physicians", "8", "--items", "60",
                                       "--studies", "5", *args])
        assert bad.exit_code == 2 and message in " ".join(bad.output.split()), bad.output
        assert "Traceback" not in bad.output


def test_the_busiest_physician_does_the_share_asked_and_items_keep_distinct_physicians():
    rng = np.random.default_rng(4)
    raters = power.draw_raters(rng, (50, 400), 10, 2, largest_share=0.4)
    assert raters.shape == (50, 400, 2)
    assert (raters[..., 0] != raters[..., 1]).all()
    share = np.mean(raters == 0) * 1.0
    assert abs(share - 0.4) < 4 * np.sqrt(0.8 * 0.2 / 20_000) / 2
    others = np.bincount(raters[raters != 0], minlength=10)[1:]
    assert others.max() / others.min() < 1.1  # the rest evenly
    with pytest.raises(ValueError, match="1/overlap"):
        power.check_largest_share(0.5, 10, 3)


def test_an_uneven_workload_widens_the_planned_interval():
    even = simulate_share(design(0.66, overlap=1), 1.0, studies=150, seed=3)
    uneven = simulate_share(design(0.66, overlap=1, largest_share=0.5), 1.0, studies=150, seed=3)
    assert uneven["physicians_only"]["width"] > 1.2 * even["physicians_only"]["width"]
    assert uneven["ppi"]["width"] > 1.2 * even["ppi"]["width"]
