"""The comparison of systems on one task: metrics, paired tests, Holm, compute, ratings, files."""

import json

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from data.tasks import load_task
from evaluation.compare import compare_systems, compute_table
from evaluation.compare_render import to_html, write_comparison
from evaluation.rouge import per_example

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def simulate(task, accuracy_by_system, n=120, seed=0):
    rng = np.random.default_rng(seed)
    choices = list(task["options"]) if task["output"] == "option" else [x["name"] for x in task["labels"]]
    gold = rng.choice(choices, n)
    out = {}
    for system, accuracy in accuracy_by_system.items():
        rows = []
        for i, g in enumerate(gold):
            u = rng.random()
            parsed = str(g) if u < accuracy else (None if u > 0.95 else str(rng.choice(choices)))
            rows.append({"id": f"q{i}", "task": task["name"], "system": system, "raw_output": parsed or "?",
                         "parsed": parsed, "gold": str(g), "correct": parsed == g})
        out[system] = rows
    return out


@pytest.fixture(scope="module")
def medqa():
    return load_task("medqa").public_dict()


def test_accuracy_task_table_and_mcnemar_with_holm(medqa):
    predictions = simulate(medqa, {"base": 0.3, "sft": 0.45, "dpo": 0.6})
    summary = compare_systems(medqa, predictions, rounds=500)
    assert summary["systems"] == ["base", "sft", "dpo"] and summary["primary_metric"] == "accuracy"
    for system, rows in predictions.items():
        assert summary["per_system"][system]["accuracy"]["value"] == pytest.approx(
            sklearn_metrics.accuracy_score([r["gold"] for r in rows], [str(r["parsed"]) for r in rows]))
    pairs = [(c["first"], c["second"]) for c in summary["comparisons"]]
    assert pairs == [("base", "sft"), ("sft", "dpo"), ("base", "dpo")]
    raw = []
    for c in summary["comparisons"]:
        a = np.array([r["correct"] for r in predictions[c["first"]]])
        b = np.array([r["correct"] for r in predictions[c["second"]]])
        table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
        ref = sm_mcnemar(table, exact=(table[0][1] + table[1][0]) < 25, correction=True)
        assert c["p_value"] == pytest.approx(ref.pvalue)
        raw.append(ref.pvalue)
    assert [c["p_holm"] for c in summary["comparisons"]] == pytest.approx(multipletests(raw, method="holm")[1])


def test_macro_f1_task_uses_permutation_and_sklearn_values():
    task = load_task("triage").public_dict()
    predictions = simulate(task, {"sft": 0.5, "dpo": 0.8}, n=80, seed=1)
    summary = compare_systems(task, predictions, rounds=2000)
    labels = [x["name"] for x in task["labels"]]
    for system, rows in predictions.items():
        ref = sklearn_metrics.f1_score([r["gold"] for r in rows], [str(r["parsed"]) for r in rows], labels=labels,
                                       average="macro", zero_division=0)
        assert summary["per_system"][system]["macro_f1"]["value"] == pytest.approx(ref)
    (comparison,) = summary["comparisons"]
    assert comparison["test"] == "paired permutation" and comparison["p_value"] < 0.01
    assert comparison["ci_low"] < comparison["difference"] < comparison["ci_high"]


def test_rouge_task_matches_rouge_score():
    task = load_task("meqsum").public_dict()
    refs = ["What are the side effects of metformin?", "Can I take ibuprofen with warfarin?",
            "How is shingles treated?", "Is a low-carb diet safe in pregnancy?"] * 5
    outputs = {"sft": [r.replace("What", "Which") for r in refs], "dpo": refs[::-1]}
    predictions = {s: [{"id": f"m{i}", "task": "meqsum", "system": s, "raw_output": o, "parsed": o, "gold": refs[i],
                        "correct": None} for i, o in enumerate(outs)] for s, outs in outputs.items()}
    summary = compare_systems(task, predictions, rounds=300)
    for system, outs in outputs.items():
        expected = per_example(outs, refs)["rougeL_fmeasure"].mean()
        assert summary["per_system"][system]["rougeL_fmeasure"]["value"] == pytest.approx(expected)
    assert summary["comparisons"][0]["metric"] == "rougeL_fmeasure"


def test_ratings_paired_test_is_two_way_robust_with_wilcoxon_beside(medqa):
    predictions = simulate(medqa, {"sft": 0.5, "dpo": 0.5}, n=30)
    rng = np.random.default_rng(2)
    ratings = [{"item_id": f"i{i}", "rater": f"r{k}", "system": s, "criterion": "overall", "scale": "likert-5",
                "value": int(rng.integers(1, 5) + (s == "dpo" and rng.random() < 0.6))}
               for i in range(25) for k in range(2) for s in ("sft", "dpo")]
    summary = compare_systems(medqa, predictions, ratings=ratings, rounds=300)
    means = {s: [np.mean([r["value"] for r in ratings if r["system"] == s and r["item_id"] == f"i{i}"])
                 for i in range(25)] for s in ("sft", "dpo")}
    (comparison,) = summary["ratings"]["comparisons"]
    assert comparison["wilcoxon_p_value"] == pytest.approx(stats.wilcoxon(np.subtract(means["dpo"], means["sft"])).pvalue)
    # the printed p: difference of means, statsmodels OLS on a system dummy, two-way clustered
    # (its extra (N-1)/(N-k) factor removed), t on effective physicians - 1 = 1 df (2 equal physicians)
    import statsmodels.api as sm

    y = np.array([r["value"] for r in ratings], float)
    x = sm.add_constant(np.array([r["system"] == "dpo" for r in ratings], float))
    groups = np.column_stack([[int(r["rater"][1:]) for r in ratings], [int(r["item_id"][1:]) for r in ratings]])
    fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups})
    se = fit.bse[1] * np.sqrt((len(y) - 2) / (len(y) - 1))
    assert comparison["difference"] == pytest.approx(fit.params[1])
    assert comparison["p_value"] == pytest.approx(2 * stats.t.sf(abs(fit.params[1]) / se, 1))
    assert summary["ratings"]["per_system"]["dpo"]["likert_mean"]["value"] == pytest.approx(np.mean(means["dpo"]))


def test_different_examples_or_gold_are_refused(medqa):
    predictions = simulate(medqa, {"sft": 0.5, "dpo": 0.6}, n=20)
    with pytest.raises(ValueError, match="different set of examples"):
        compare_systems(medqa, {"sft": predictions["sft"], "dpo": predictions["dpo"][:-1]})
    predictions["dpo"][0] = {**predictions["dpo"][0], "gold": "Z"}
    with pytest.raises(ValueError, match="gold answer of example"):
        compare_systems(medqa, predictions)


def test_compute_ratios():
    runs = {"sft": {"wall_time_s": 3600, "device": {"device": "cuda", "count": 8}, "tokens_processed": 1000,
                    "processes": {"num_processes": 2}},
            "dpo": {"wall_time_s": 9000, "device": {"device": "cuda", "count": 2}, "tokens_processed": 2500,
                    "total_flos": 5.0}}
    table = compute_table(runs)
    assert table["stages"]["sft"]["gpu_hours"] == 2.0 and table["stages"]["dpo"]["gpu_hours"] == 5.0
    assert table["dpo_over_sft"]["gpu_hours"] == 2.5 and table["dpo_over_sft"]["tokens_processed"] == 2.5
    assert table["dpo_over_sft"]["flops"] is None  # the SFT run recorded none


def test_files_are_strict_json_and_escaped_html(medqa, tmp_path):
    predictions = simulate(medqa, {"<script>alert(1)</script>": 0.5, "dpo": 0.6}, n=20)
    summary = compare_systems(medqa, predictions, rounds=200)
    summary["per_system"]["dpo"]["accuracy"]["odd"] = float("nan")
    write_comparison(summary, tmp_path)
    loaded = json.loads((tmp_path / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert loaded["per_system"]["dpo"]["accuracy"]["odd"] is None
    html = to_html(summary)
    assert "<script>" not in html and "&lt;script&gt;" in html
    markdown = (tmp_path / "compare.md").read_text()
    assert "| accuracy (higher is better) |" in markdown and "-> dpo (Holm) |" in markdown


def test_task_judged_only_by_physicians_is_refused_with_a_pointer():
    task = load_task("pubmedqa-longform").public_dict()
    rows = {s: [{"id": "1", "task": task["name"], "system": s, "raw_output": "x", "parsed": "x", "gold": "y",
                 "correct": None}] for s in ("sft", "dpo")}
    with pytest.raises(ValueError, match="report --study"):
        compare_systems(task, rows)
