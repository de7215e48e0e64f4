"""Rating statistics, each number against an independent reference (pandas, scipy, statsmodels,
scikit-learn, krippendorff, a published worked example, a hand-written Holm and an explicit
row-by-row pigeonhole bootstrap)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import binomtest, wilcoxon
from scipy.stats import t as student_t
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa, to_table
from statsmodels.stats.weightstats import DescrStatsW

from data.records import DataError
from evaluation.contract import RATING_COLUMNS, parse_rating
from evaluation.ratings import checked_rows, summarise_ratings
from evaluation.rubric import load_rubric
from tests.evaluation.test_rubric import RUBRICS


def rating(rater, item, system, criterion, value, scale="likert-5", **extra) -> dict:
    row = {column: "" for column in RATING_COLUMNS}
    row.update(rater=rater, item_id=str(item), system=system, criterion=criterion, scale=scale, value=value,
               rater_simulated=False, sequence=0, revisions=0, time_on_task_ms=0)
    row.update(extra)
    return parse_rating(row)


def crossed_study(*, raters=8, items=40, overlap=3, systems=("sft", "dpo"), seed=0, shift=0.4, rater_sd=0.5,
                  item_sd=0.8) -> list[dict]:
    """Likert-5 quality and a binary 'harm' flag, each item rated by `overlap` physicians on every system."""
    rng = np.random.default_rng(seed)
    rater_effect = rng.normal(0, rater_sd, raters)
    item_effect = rng.normal(0, item_sd, items)
    rows = []
    for item in range(items):
        for r in rng.choice(raters, size=overlap, replace=False):
            for s, system in enumerate(systems):
                latent = 3 + s * shift + rater_effect[r] + item_effect[item] + rng.normal(0, 0.7)
                rows.append(rating(f"dr{r}", item, system, "quality", int(np.clip(np.rint(latent), 1, 5))))
                rows.append(rating(f"dr{r}", item, system, "harm", int(latent < 2.5), scale="binary"))
    return rows


@pytest.fixture(scope="module")
def study():
    rows = crossed_study()
    return rows, summarise_ratings(rows, rubric=None, systems=["sft", "dpo"], rounds=1000)


def test_means_and_distributions_match_pandas(study):
    rows, summary = study
    frame = pd.DataFrame(rows)
    assert summary["kind"] == "rating" and summary["systems"] == ["sft", "dpo"]
    assert summary["counts"]["ratings"] == len(rows) and summary["counts"]["raters"] == frame.rater.nunique()
    for criterion, domain in (("quality", range(1, 6)), ("harm", range(2))):
        for system in ("sft", "dpo"):
            part = frame[(frame.criterion == criterion) & (frame.system == system)]
            entry = summary["criteria"][criterion]["per_system"][system]
            assert entry["mean"] == pytest.approx(part.value.astype(float).mean())
            assert entry["items"] == part.item_id.nunique() and entry["raters"] == part.rater.nunique()
            counts = part.value.value_counts().reindex(list(domain), fill_value=0)
            assert entry["distribution"]["counts"] == {str(k): int(v) for k, v in counts.items()}
            assert sum(entry["distribution"]["shares"].values()) == pytest.approx(1.0)


def test_independent_intervals_match_statsmodels_and_scipy(study):
    rows, summary = study
    frame = pd.DataFrame(rows)
    quality = frame[(frame.criterion == "quality") & (frame.system == "dpo")].value.astype(float)
    low, high = DescrStatsW(quality.to_numpy()).tconfint_mean(alpha=0.05)
    entry = summary["criteria"]["quality"]["per_system"]["dpo"]["independent"]
    assert (entry["ci_low"], entry["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    harm = frame[(frame.criterion == "harm") & (frame.system == "sft")].value.astype(int)
    wilson = binomtest(int(harm.sum()), len(harm)).proportion_ci(confidence_level=0.95, method="wilson")
    entry = summary["criteria"]["harm"]["per_system"]["sft"]["independent"]
    assert (entry["ci_low"], entry["ci_high"]) == (pytest.approx(wilson.low), pytest.approx(wilson.high))


def test_two_way_robust_matches_statsmodels_two_group_clustering(study):
    rows, summary = study
    frame = pd.DataFrame(rows)
    part = frame[(frame.criterion == "quality") & (frame.system == "sft")]
    groups = np.column_stack([pd.factorize(part.rater)[0], pd.factorize(part.item_id)[0]])
    y = part.value.astype(float).to_numpy()
    fit = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    entry = summary["criteria"]["quality"]["per_system"]["sft"]["two_way_robust"]
    assert entry["se"] == pytest.approx(fit.bse[0], rel=1e-9)
    shares = part.rater.value_counts(normalize=True)
    df = 1 / (shares ** 2).sum() - 1  # effective (Kish) physicians - 1
    half = student_t.ppf(0.975, df) * fit.bse[0]
    assert entry["df"] == pytest.approx(df)
    assert (entry["ci_low"], entry["ci_high"]) == (pytest.approx(y.mean() - half), pytest.approx(y.mean() + half))


def test_headline_is_the_two_way_robust_interval_with_five_or_more_physicians(study):
    _rows, summary = study
    assert summary["interval"]["headline"] == "two_way_robust" and summary["interval"]["rater_variation"]
    for criterion in ("quality", "harm"):
        for entry in summary["criteria"][criterion]["per_system"].values():
            assert entry["interval"]["method"] == "two_way_robust" and entry["interval"]["note"] is None
            assert (entry["interval"]["ci_low"], entry["interval"]["ci_high"]) == \
                (entry["two_way_robust"]["ci_low"], entry["two_way_robust"]["ci_high"])


def test_two_way_bootstrap_matches_explicit_resampling_within_monte_carlo_error(study):
    rows, summary = study
    frame = pd.DataFrame(rows)
    entry = summary["criteria"]["quality"]["per_system"]["dpo"]
    assert entry["bootstrap"]["method"] == "two_way_bootstrap" and entry["bootstrap"]["usable_rounds"] == 1000
    # Row by row: draw the study's physicians and items with replacement, keep every rating whose
    # physician and item were both drawn, as often as both were drawn.
    mine = ((frame.criterion == "quality") & (frame.system == "dpo")).to_numpy()
    rng = np.random.default_rng(7)
    raters, items = frame.rater.unique(), frame.item_id.unique()
    means = []
    for _ in range(1000):
        weight = (frame.rater.map(pd.Series(rng.choice(raters, len(raters))).value_counts()).fillna(0)
                  * frame.item_id.map(pd.Series(rng.choice(items, len(items))).value_counts()).fillna(0)).to_numpy()
        means.append(float((weight * frame.value.to_numpy() * mine).sum() / (weight * mine).sum()))
    low, high = np.quantile(means, [0.025, 0.975])
    width = high - low
    assert entry["bootstrap"]["ci_low"] == pytest.approx(low, abs=0.12 * width)
    assert entry["bootstrap"]["ci_high"] == pytest.approx(high, abs=0.12 * width)
    # Physicians and items both vary here: the clustered intervals are wider than the independent one.
    for method in ("bootstrap", "two_way_robust"):
        assert entry[method]["ci_high"] - entry[method]["ci_low"] > \
            entry["independent"]["ci_high"] - entry["independent"]["ci_low"]
        assert entry[method]["ci_low"] < entry["mean"] < entry[method]["ci_high"]


def test_paired_wilcoxon_on_per_item_means_and_holm_by_hand():
    rows = crossed_study(seed=3, shift=0.3)
    rows += [rating(r["rater"], r["item_id"], r["system"], "clarity", 6 - r["value"]) for r in rows
             if r["criterion"] == "quality"]
    summary = summarise_ratings(rows, systems=["sft", "dpo"], rounds=200)
    frame = pd.DataFrame(rows)
    raw = []
    for criterion in ("quality", "harm", "clarity"):
        means = frame[frame.criterion == criterion].groupby(["item_id", "system"]).value.mean().unstack()
        diffs = (means["dpo"] - means["sft"]).dropna()
        reference = wilcoxon(diffs.to_numpy())
        (comparison,) = summary["criteria"][criterion]["paired"]
        assert comparison["systems"] == ["sft", "dpo"] and comparison["items"] == len(diffs)
        assert comparison["mean_difference"] == pytest.approx(diffs.mean())
        assert comparison["median_difference"] == pytest.approx(diffs.median())
        assert comparison["wilcoxon_statistic"] == pytest.approx(reference.statistic)
        assert comparison["wilcoxon_p_value"] == pytest.approx(reference.pvalue)
        assert comparison["p_value"] is not None  # the printed test: two-way robust (tests/evaluation/test_intervals.py)
        raw.append(comparison)
    # Holm by hand: sort p ascending, multiply the k-th smallest by (m - k), running maximum, cap at 1.
    ps = np.array([c["p_value"] for c in raw])
    order = np.argsort(ps)
    adjusted = np.minimum(1, np.maximum.accumulate(ps[order] * (len(ps) - np.arange(len(ps)))))
    expected = np.empty_like(ps)
    expected[order] = adjusted
    assert [c["p_holm"] for c in raw] == pytest.approx(expected.tolist())


def test_paired_without_any_difference_has_no_test():
    rows = [rating(f"dr{r}", i, s, "quality", 3) for r in range(2) for i in range(4) for s in ("a", "b")]
    (comparison,) = summarise_ratings(rows, rounds=50)["criteria"]["quality"]["paired"]
    assert comparison["p_value"] is None and comparison["p_holm"] is None and "no item differs" in comparison["note"]


def test_krippendorff_ordinal_alpha_matches_the_published_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", four observers, twelve
    # units, values 1-5 with gaps: alpha nominal 0.743, ordinal 0.815, interval 0.849.
    table = {"A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
             "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
             "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
             "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]}
    rows = [rating(observer, unit, "sys", "quality", value) for observer, values in table.items()
            for unit, value in enumerate(values) if value is not None]
    agreement = summarise_ratings(rows, rounds=50)["criteria"]["quality"]["agreement"]
    assert agreement["metric"] == "ordinal" and agreement["units"] == 11  # unit 12 has one value: not pairable
    assert agreement["krippendorff_alpha"] == pytest.approx(0.815, abs=5e-4)


def test_quadratic_kappa_per_pair_matches_statsmodels(study):
    rows, summary = study
    frame = pd.DataFrame([r for r in rows if r["criterion"] == "quality"])
    pairs = summary["criteria"]["quality"]["agreement"]["cohen_kappa_quadratic"]
    assert pairs
    for pair in pairs:
        a, b = pair["raters"]
        wide = frame[frame.rater.isin([a, b])].pivot_table(index=["item_id", "system"], columns="rater",
                                                           values="value").dropna()
        assert pair["n"] == len(wide)
        table, _ = to_table(wide[[a, b]].to_numpy().astype(int) - 1, bins=5)
        expected = cohens_kappa(table, wt="quadratic").kappa
        assert pair["kappa"] == pytest.approx(expected, abs=1e-9)
        sklearn = cohen_kappa_score(wide[a].astype(int), wide[b].astype(int), weights="quadratic", labels=[1, 2, 3, 4, 5])
        assert pair["kappa"] == pytest.approx(sklearn, abs=1e-9)


def test_robust_interval_stays_on_the_scale_and_is_withheld_without_variation():
    rows = [rating(f"dr{r}", i, "dpo", "harm", int(r == 0 and i == 0), scale="binary") for r in range(6) for i in range(8)]
    rows += [rating(f"dr{r}", i, "dpo", "calm", 0, scale="binary") for r in range(6) for i in range(8)]
    summary = summarise_ratings(rows, rounds=50)
    harm = summary["criteria"]["harm"]["per_system"]["dpo"]["two_way_robust"]
    assert harm["ci_low"] == 0.0 < harm["ci_high"] < 1  # unclipped, mean - t * se would be below 0
    calm = summary["criteria"]["calm"]["per_system"]["dpo"]
    assert calm["two_way_robust"]["ci_low"] is None and "no variation" in calm["two_way_robust"]["note"]
    assert calm["interval"]["ci_low"] is None and "no variation" in calm["interval"]["note"]
    assert calm["independent"]["ci_high"] > 0  # Wilson still says something


def test_kappa_of_a_pair_without_variation_is_undefined_not_nan():
    rows = [rating(f"dr{r}", i, "dpo", "quality", 4) for r in range(2) for i in range(3)]
    rows.append(rating("dr2", 0, "dpo", "quality", 2))
    pairs = summarise_ratings(rows, rounds=20)["criteria"]["quality"]["agreement"]["cohen_kappa_quadratic"]
    assert [p["raters"] for p in pairs] == [["dr0", "dr1"]]  # dr2 shares one answer only
    assert pairs[0]["kappa"] is None and "no variation" in pairs[0]["note"]


def test_fewer_than_five_physicians_say_the_interval_cannot_cover_physician_variation():
    rows = crossed_study(raters=3, overlap=2, items=30)
    summary = summarise_ratings(rows, rounds=300)
    assert summary["interval"]["headline"] == "bootstrap_item" and not summary["interval"]["rater_variation"]
    assert "cannot account for physician variation" in summary["interval"]["assumes"]
    entry = summary["criteria"]["quality"]["per_system"]["sft"]
    assert entry["interval"]["method"] == "bootstrap_item" and "only 3 physicians" in entry["interval"]["note"]
    assert entry["bootstrap"]["method"] == "bootstrap_item"
    assert entry["interval"]["ci_low"] == entry["bootstrap"]["ci_low"] is not None
    # No rater-clustered interval is offered as valid with three physicians.
    assert entry["two_way_robust"]["ci_low"] is None and "too few" in entry["two_way_robust"]["note"]


def test_choice_criteria_get_their_distribution_only():
    rubric = load_rubric(RUBRICS / "clinical-axes.yaml")
    rows = [rating(f"dr{r}", i, "dpo", "consensus", value, scale="choice")
            for r, i, value in ((0, 1, "aligned"), (1, 1, "aligned"), (0, 2, "opposed"), (1, 2, "aligned"))]
    entry = summarise_ratings(rows, rubric=rubric, rounds=50)["criteria"]["consensus"]
    assert set(entry) >= {"per_system", "domain"} and "paired" not in entry and "agreement" not in entry
    assert entry["domain"] == ["aligned", "opposed", "no_consensus"]
    assert entry["per_system"]["dpo"]["distribution"]["counts"] == {"aligned": 3, "opposed": 1, "no_consensus": 0}
    assert entry["higher_is_better"] is None and entry["labels"]["no_consensus"].startswith("No consensus")


def test_rubric_supplies_direction_and_question_even_as_stored_json():
    rubric = load_rubric(RUBRICS / "clinical-axes.yaml")
    rows = [rating(f"dr{r}", i, "dpo", "harm_extent", 1 + (r + i) % 3, scale="likert-3") for r in range(3)
            for i in range(5)]
    for given in (rubric, rubric.to_json(), rubric.model_dump(mode="json")):
        entry = summarise_ratings(rows, rubric=given, rounds=50)["criteria"]["harm_extent"]
        assert entry["higher_is_better"] is False and entry["question"].startswith("If a patient")


def test_a_revised_rating_counts_once_at_its_latest_value():
    first = rating("dr1", 1, "dpo", "quality", 2, updated_at="2026-11-01T10:00:00", sequence=1)
    later = rating("dr1", 1, "dpo", "quality", 5, updated_at="2026-11-01T10:05:00", sequence=1)
    rows, dropped = checked_rows([later, first])
    assert dropped == 1 and [r["value"] for r in rows] == [5]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"scale": "stars"}, "scale", "unknown scale"),
        ({"value": 7}, "value", "not on likert-5"),
        ({"value": "good"}, "value", "whole number"),
        ({"system": ""}, "system", "missing"),
    ],
)
def test_bad_rows_name_the_record_and_field(change, field, words):
    rows = [rating("dr1", 1, "dpo", "quality", 3), {**rating("dr2", 1, "dpo", "quality", 3), **change}]
    with pytest.raises(DataError) as caught:
        summarise_ratings(rows, source="ratings.jsonl", rounds=10)
    assert caught.value.field == field and words in caught.value.message
    assert caught.value.file == "ratings.jsonl" and caught.value.record.startswith("rating 2")


def test_a_criterion_on_two_scales_is_an_error():
    rows = [rating("dr1", 1, "dpo", "quality", 3), rating("dr2", 1, "dpo", "quality", 1, scale="binary")]
    with pytest.raises(DataError, match="likert-5 elsewhere, binary here"):
        summarise_ratings(rows, rounds=10)


def test_no_ratings_is_a_note_not_a_crash():
    summary = summarise_ratings([], rounds=10)
    assert summary["criteria"] == {} and "no ratings" in summary["note"]
