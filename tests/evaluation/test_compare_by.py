"""`report compare --by FIELD`: every metric and paired test per value of a per-item field (MedQA's
USMLE step), checked against statsmodels/scipy/sklearn; a group too small for the test says so;
the real MedQA dev split keeps meta_info through `data prepare`, `eval score` and `report compare`."""

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from data.config_files import configs_dir
from data.records import DataError
from data.task_prepare import prepare_task
from data.tasks import load_task, load_task_file
from evaluation.compare import compare_systems
from evaluation.compare_render import to_markdown
from medalign.cli import app

sklearn_metrics = pytest.importorskip("sklearn.metrics")
os.environ.setdefault("TQDM_DISABLE", "1")
runner = CliRunner()
MEDQA_DEV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "medqa_usmle" / "dev.jsonl"


def simulate(task, accuracy_by_system, groups, seed=0):
    """Predictions whose rows carry fields {"step": value}; `groups`: {value: n}."""
    rng = np.random.default_rng(seed)
    choices = list(task["options"]) if task["output"] == "option" else [x["name"] for x in task["labels"]]
    steps = [value for value, n in groups.items() for _ in range(n)]
    gold = rng.choice(choices, len(steps))
    out = {}
    for system, accuracy in accuracy_by_system.items():
        rows = []
        for i, (g, step) in enumerate(zip(gold, steps, strict=True)):
            u = rng.random()
            parsed = str(g) if u < accuracy[step] else (None if u > 0.95 else str(rng.choice(choices)))
            rows.append({"id": f"q{i:03d}", "task": task["name"], "system": system, "raw_output": parsed or "?",
                         "parsed": parsed, "gold": str(g), "correct": parsed == g, "fields": {"step": step}})
        out[system] = rows
    return out


def by_group(rows, step):
    return [r for r in rows if r["fields"]["step"] == step]


def test_accuracy_split_by_step_matches_statsmodels(tmp_path):
    medqa = load_task("medqa").public_dict()
    accuracy = {"base": {"step1": 0.3, "step2&3": 0.4, "step3": 0.5}, "sft": {"step1": 0.5, "step2&3": 0.45, "step3": 0.5},
                "dpo": {"step1": 0.7, "step2&3": 0.5, "step3": 0.5}}
    predictions = simulate(medqa, accuracy, {"step1": 90, "step2&3": 70, "step3": 4})
    summary = compare_systems(medqa, predictions, by="step", rounds=500)
    groups = {g["value"]: g for g in summary["by"]["groups"]}
    assert list(groups) == ["step1", "step2&3", "step3"] and [g["n"] for g in groups.values()] == [90, 70, 4]
    raw = []
    for step in ("step1", "step2&3"):
        group = groups[step]
        assert not group["too_small"]
        for system, rows in predictions.items():
            part = by_group(rows, step)
            correct = sum(r["correct"] for r in part)
            entry = group["per_system"][system]
            assert entry["accuracy"]["value"] == pytest.approx(sklearn_metrics.accuracy_score(
                [r["gold"] for r in part], [str(r["parsed"]) for r in part]))
            low, high = proportion_confint(correct, len(part), method="wilson")
            assert (entry["accuracy"]["ci_low"], entry["accuracy"]["ci_high"]) == pytest.approx((low, high))
            assert entry["correct"] == correct and entry["unparsed"] == sum(r["parsed"] is None for r in part)
        for c in group["comparisons"]:
            a = np.array([r["correct"] for r in by_group(predictions[c["first"]], step)])
            b = np.array([r["correct"] for r in by_group(predictions[c["second"]], step)])
            table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
            ref = sm_mcnemar(table, exact=(table[0][1] + table[1][0]) < 25, correction=True)
            assert c["p_value"] == pytest.approx(ref.pvalue)
            assert c["difference"] == pytest.approx(b.mean() - a.mean())
            raw.append((c, ref.pvalue))
    # Holm over all tests of all groups (the small group has none)
    adjusted = multipletests([p for _, p in raw], method="holm")[1]
    assert [c["p_holm"] for c, _ in raw] == pytest.approx(adjusted)
    small = groups["step3"]
    assert small["too_small"] and all(c["p_value"] is None and "too small" in c["too_small"] for c in small["comparisons"])
    assert "ci_low" not in small["per_system"]["dpo"]["accuracy"]
    table = to_markdown(summary)
    assert "## Results by step" in table and "## Paired comparisons by step" in table
    assert "too small for the test (n=4 &lt; 10)" in table  # md_text escapes "<"
    step3_tests = [line for line in table.splitlines() if line.startswith("| step3 |") and "-&gt;" in line]
    assert len(step3_tests) == 3 and all(line.endswith("| - | - | - | - |") for line in step3_tests)
    # the whole table is unchanged by the split
    assert compare_systems(medqa, predictions, rounds=500)["comparisons"] == summary["comparisons"]


def test_macro_f1_groups_equal_a_comparison_of_that_group_alone():
    """Each group's permutation test and bootstrap interval are the whole report's, run on the group."""
    task = load_task("triage").public_dict()
    accuracy = {"sft": {"clinic-a": 0.4, "clinic-b": 0.6}, "dpo": {"clinic-a": 0.8, "clinic-b": 0.6}}
    predictions = simulate(task, accuracy, {"clinic-a": 40, "clinic-b": 30}, seed=3)
    summary = compare_systems(task, predictions, by="step", rounds=1000)
    labels = [x["name"] for x in task["labels"]]
    for group in summary["by"]["groups"]:
        alone = compare_systems(task, {s: by_group(rows, group["value"]) for s, rows in predictions.items()},
                                rounds=1000)
        (mine,), (theirs,) = group["comparisons"], alone["comparisons"]
        assert {k: mine[k] for k in ("difference", "p_value", "ci_low", "ci_high")} == \
            {k: theirs[k] for k in ("difference", "p_value", "ci_low", "ci_high")}
        for system, rows in predictions.items():
            part = by_group(rows, group["value"])
            ref = sklearn_metrics.f1_score([r["gold"] for r in part], [str(r["parsed"]) for r in part], labels=labels,
                                           average="macro", zero_division=0)
            assert group["per_system"][system]["macro_f1"]["value"] == pytest.approx(ref)
    assert summary["by"]["groups"][0]["comparisons"][0]["p_value"] < 0.05


def test_by_a_field_the_predictions_lack_is_refused():
    medqa = load_task("medqa").public_dict()
    predictions = simulate(medqa, {"a": {"s": 0.5}, "b": {"s": 0.5}}, {"s": 12})
    with pytest.raises(ValueError, match="has no field 'year'.*its fields: \\['step'\\]"):
        compare_systems(medqa, predictions, by="year", rounds=50)
    predictions["b"][0] = {**predictions["b"][0], "fields": {"step": "other"}}
    with pytest.raises(ValueError, match="differs between systems"):
        compare_systems(medqa, predictions, by="step", rounds=50)


def test_fields_only_for_loaders_that_read_them_and_missing_values_named(tmp_path):
    bad = tmp_path / "pubmedqa-decision.yaml"
    text = (configs_dir() / "tasks" / "pubmedqa-decision.yaml").read_text()
    bad.write_text(text + "fields: {year: YEAR}\n")
    with pytest.raises(DataError, match="fields are read by the medqa-jsonl and label-table loaders"):
        load_task_file(bad)
    source = tmp_path / "medqa.jsonl"
    item = {"question": "Which artery?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "B"}
    source.write_text(json.dumps({**item, "meta_info": "step1"}) + "\n" + json.dumps(item) + "\n")
    with pytest.raises(DataError) as error:
        prepare_task("medqa", source=str(source), labels=None, n=10, holdout=1, seed=0, out=tmp_path / "out")
    assert "medqa.jsonl:2" in str(error.value) and "meta_info" in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not MEDQA_DEV.is_file(), reason="the real MedQA dev split is not here (../shared/data)")
def test_real_medqa_steps_through_prepare_score_and_compare(tmp_path):
    def ok(*args):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result

    data = tmp_path / "data"
    ok("data", "prepare", "medqa", "--source", MEDQA_DEV, "--holdout", "150", "--out", data)
    holdout = [json.loads(line) for line in (data / "holdout.jsonl").read_text().splitlines()]
    # independent: the step of each holdout question, read straight from the source file by line number
    source = [json.loads(line) for line in MEDQA_DEV.read_text().splitlines()]
    steps = {r["id"]: source[int(r["id"].removeprefix("line")) - 1]["meta_info"] for r in holdout}
    assert all(r["fields"] == {"step": steps[r["id"]]} for r in holdout)
    answer = {"first": lambda r: "A", "longest": lambda r: max(r["options"], key=lambda k: len(r["options"][k]))}
    for system, pick in answer.items():
        (tmp_path / f"{system}.gen.jsonl").write_text("".join(json.dumps(
            {"id": r["id"], "question": r["question"], "outputs": {system: f"The answer is {pick(r)}."}}) + "\n"
            for r in holdout))
        ok("eval", "score", "--task", "medqa", "--data", data / "holdout.jsonl", "--generations",
           tmp_path / f"{system}.gen.jsonl", "--system", system, "--out", tmp_path / f"{system}.jsonl", "--rounds", "100")
    ok("report", "compare", "--task", "medqa", "--predictions",
       f"first={tmp_path / 'first.jsonl'},longest={tmp_path / 'longest.jsonl'}", "--by", "step",
       "--out", tmp_path / "cmp", "--rounds", "300")
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    counts = Counter(steps.values())
    assert {g["value"]: g["n"] for g in summary["by"]["groups"]} == dict(counts) and set(counts) == {"step1", "step2&3"}
    for group in summary["by"]["groups"]:
        ids = [i for i, s in steps.items() if s == group["value"]]
        rows = {s: {r["id"]: r for r in map(json.loads, (tmp_path / f"{s}.jsonl").read_text().splitlines())}
                for s in answer}
        a = np.array([rows["first"][i]["correct"] for i in ids])
        b = np.array([rows["longest"][i]["correct"] for i in ids])
        table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
        ref = sm_mcnemar(table, exact=(table[0][1] + table[1][0]) < 25, correction=True)
        assert group["comparisons"][0]["p_value"] == pytest.approx(ref.pvalue)
        assert group["per_system"]["first"]["correct"] == int(a.sum())
    assert "| step1 | " in (tmp_path / "cmp" / "compare.md").read_text()
    refused = runner.invoke(app, ["report", "compare", "--task", "medqa", "--predictions",
                                  f"first={tmp_path / 'first.jsonl'},longest={tmp_path / 'longest.jsonl'}",
                                  "--by", "year", "--out", str(tmp_path / "cmp2")])
    assert refused.exit_code == 2 and "no field 'year'" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "cmp2").exists()
