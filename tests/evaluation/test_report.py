"""The report end to end on a synthetic judgment export with a known true win rate."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaluation.report import build_summary
from medalign.cli import app
from tests.evaluation.conftest import synthetic_study

runner = CliRunner()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_report_from_export_covers_true_rate(tmp_path):
    rows = synthetic_study(0.63, items=240, raters=4, overlap=2, seed=3, tie_share=0.1)
    judgments = write_jsonl(tmp_path / "judgments.jsonl", rows)
    generations = write_jsonl(
        tmp_path / "gen.jsonl",
        [
            {
                "id": str(i),
                "question": "q",
                "reference": "What causes a chronic cough?",
                "outputs": {"sft": "Consult your doctor.", "dpo": "What causes chronic cough? It was associated with reflux."},
            }
            for i in range(20)
        ],
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text(
        "".join(
            json.dumps({"step": s, "epoch": s / 10, "rewards/margins": s * 0.5, "rewards/accuracies": min(1, s / 5)}) + "\n"
            for s in range(1, 11)
        )
    )
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["report", "--judgments", str(judgments), "--generations", str(generations), "--run", str(run_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in (
        "report.md",
        "report.html",
        "judgments.csv",
        "summary.json",
        "win_rate.png",
        "reward_margin.png",
        "position_bias.png",
        "hq.png",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text(), parse_constant=reject_constant)  # strict JSON
    decisive_truth = 0.63
    wr = summary["win_rate"]
    assert wr["decisive_ci_low"] < decisive_truth < wr["decisive_ci_high"]
    expected_published = 0.63 * 0.9  # ties take 10%
    assert wr["ci_low"] < expected_published < wr["ci_high"]
    headline = wr["headline"]
    assert set(headline) >= {"estimate", "ci_low", "ci_high", "method", "definition"}
    # the default primary estimand is the paper's decisive-vote rate; 4 physicians: too few for the two-way interval
    assert headline["method"] == "bootstrap_item" and headline["definition"] == "decisive"
    assert "cannot account for variation between physicians" in headline["note"]
    assert headline["ci_low"] < decisive_truth < headline["ci_high"]
    # no headline p-value below 5 physicians: the item bootstrap cannot see physicians (issue 20)
    assert headline["p_value"] is None and headline["test"].startswith("withheld: with 4 physicians")
    assert headline["estimate"] == pytest.approx(wr["rate_decisive"])
    assert wr["intervals"]["all"]["estimate"] == pytest.approx(wr["rate"])
    for entry in wr["intervals"].values():
        for method in entry["methods"].values():
            assert method["assumes"]
    assert summary["agreement"]["units"] == 240
    assert summary["published_comparison"]["decisive_rate"] == pytest.approx(wr["rate_decisive"])
    assert summary["run"]["final_margin"] == 5.0
    assert {h["system"]: h["hq"] for h in summary["hq"]} == {"dpo": 1.0, "sft": 0.0}
    text = (out / "report.md").read_text()
    assert "| DPO Model | 0.63 |" in text and "| SFT Model | 0.37 |" in text and "Fleiss" in text
    assert "cannot account for variation between physicians" in text.split("## Published")[0]  # next to the headline
    assert "Detector validation" in text and "precision" in text
    assert len(list(csv.DictReader((out / "judgments.csv").open()))) == len(rows)
    assert "<table>" in (out / "report.html").read_text()


def reject_constant(name):
    raise AssertionError(f"summary.json holds {name}: not strict JSON")


def test_enough_physicians_get_the_two_way_headline():
    rows = synthetic_study(0.63, items=200, raters=8, overlap=3, seed=5)
    summary = build_summary(rows, bootstrap_rounds=200)
    headline = summary["win_rate"]["headline"]
    assert headline["method"] == "two_way_robust" and "note" not in headline
    from evaluation.report import strict

    assert json.loads(json.dumps(strict({"x": float("nan"), "y": [float("inf")]}), allow_nan=False)) == {"x": None, "y": [None]}


def test_report_with_no_judgments_is_a_clear_message():
    summary = build_summary([])
    assert "no scored judgments" in summary["note"]


def test_report_needs_an_input(tmp_path):
    result = runner.invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "at least one of" in result.output


def test_bad_judgment_file_names_line(tmp_path):
    rows = synthetic_study(0.6, items=3)
    rows[1]["choice"] = "Maybe"
    path = write_jsonl(tmp_path / "j.jsonl", rows)
    result = runner.invoke(app, ["report", "--judgments", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "j.jsonl:2: field 'choice'" in result.output
    assert not (tmp_path / "o").exists()


def test_report_power_and_hq_commands(tmp_path):
    result = runner.invoke(app, ["report", "power", "--expected", "0.63"])
    assert result.exit_code == 0 and "decisive judgments" in result.output
    gen = write_jsonl(tmp_path / "g.jsonl", [{"id": "1", "outputs": {"base": "I cannot answer that.", "dpo": "Yes, it did."}}])
    result = runner.invoke(app, ["report", "hq", "--generations", str(gen), "--json", str(tmp_path / "hq.json")])
    assert result.exit_code == 0
    assert {h["system"]: h["hq"] for h in json.loads((tmp_path / "hq.json").read_text())} == {"base": 0.0, "dpo": 1.0}


@pytest.mark.parametrize("fmt", ["parquet", "hf"])
def test_export_parquet_and_hf(tmp_path, monkeypatch, fmt):
    from app import storage
    from app.db import open_database
    from tests.app.conftest import write_answers

    monkeypatch.setenv("MEDALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("PW", "long-enough-pw")
    assert (
        runner.invoke(app, ["study", "create", "--name", "pilot", "--answers", str(write_answers(tmp_path / "a.jsonl", 3))]).exit_code == 0
    )
    assert runner.invoke(app, ["users", "add", "d", "--role", "physician", "--password-env", "PW"]).exit_code == 0
    with storage.transaction(open_database()) as session:
        study, user = storage.get_study(session, "pilot"), storage.get_user(session, "d")
        storage.submit_judgment(session, user, storage.next_assignment(session, study, user).id, choice="tie")
    out = tmp_path / f"export.{fmt}"
    result = runner.invoke(app, ["export", "--study", "pilot", "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    if fmt == "parquet":
        import pandas as pd

        frame = pd.read_parquet(out)
    else:
        from datasets import load_from_disk

        frame = load_from_disk(str(out)).to_pandas()
    assert len(frame) == 1 and frame.iloc[0]["choice"] == "tie" and frame.iloc[0]["rater"] == "d"


def test_three_systems_win_rate_uses_only_target_comparisons():
    from evaluation.judgments import normalise_row
    from tests.evaluation.test_rouge_bt import bt_rows

    rows = []
    for i, r in enumerate(bt_rows()):
        choice = "a" if r["preferred_system"] == r["system_a"] else "b" if r["preferred_system"] else "tie"
        rows.append(normalise_row({**r, "item_id": str(i), "rater": "r", "choice": choice}))
    summary = build_summary(rows, target="dpo", bootstrap_rounds=100)
    # dpo took part in 14 + 12 judgments: sft-vs-dpo (8 wins, 4 losses, 2 ties) and base-vs-dpo (9, 2, 1)
    assert summary["win_rate"]["n"] == 26 and summary["win_rate"]["wins"] == 17 and summary["win_rate"]["losses"] == 6
    assert summary["bradley_terry"]["scores"]["dpo"] > summary["bradley_terry"]["scores"]["base"]
    pairs = {tuple(p["systems"]): p for p in summary["pairwise"]}
    assert set(pairs) == {("base", "dpo"), ("base", "sft"), ("dpo", "sft")}
    assert pairs[("dpo", "sft")]["n"] == 14 and pairs[("dpo", "sft")]["rate"] == pytest.approx(8 / 14)
    # like with like: the paper's 0.63 compared sft and dpo directly, so only that comparison's decisive votes count
    published = summary["published_comparison"]
    assert published["against"] == "sft" and published["decisive_rate"] == pytest.approx(8 / 12)
    assert published["tie_share"] == pytest.approx(2 / 14) and published["both_bad_share"] == 0
    assert published["interval"]["ci_low"] == pairs[("dpo", "sft")]["decisive_headline"]["ci_low"]
    from evaluation.report import strict
    from evaluation.report_render import render_markdown

    text = render_markdown(strict(summary))
    assert "## Several systems" in text and "Win matrix" in text and "| dpo vs sft | 14 |" in text


def test_report_from_a_study_in_the_database(tmp_path, monkeypatch):
    from app import storage
    from app.db import open_database
    from tests.app.conftest import write_answers

    monkeypatch.setenv("MEDALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("PW", "long-enough-pw")
    answers = write_answers(tmp_path / "a.jsonl", 6)
    assert runner.invoke(app, ["study", "create", "--name", "pilot", "--answers", str(answers), "--overlap", "2"]).exit_code == 0
    for name in ("d1", "d2"):
        assert runner.invoke(app, ["users", "add", name, "--role", "physician", "--password-env", "PW"]).exit_code == 0
    with storage.transaction(open_database()) as session:
        study = storage.get_study(session, "pilot")
        for name in ("d1", "d2"):
            user = storage.get_user(session, name)
            while (assignment := storage.next_assignment(session, study, user)) is not None:
                storage.submit_judgment(session, user, assignment.id, choice="b" if assignment.id % 3 else "tie")
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "--study", "pilot", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(), parse_constant=reject_constant)
    assert summary["counts"]["judgments"] == 12 and summary["counts"]["raters"] == 2
    assert summary["win_rate"]["headline"]["method"] == "bootstrap_item"  # two physicians: items only, said in words
    assert "cannot account for variation between physicians" in (out / "report.md").read_text()


@pytest.mark.parametrize("task", ["pubmedqa-longform", None, "meqsum"])
def test_rouge_is_labelled_by_its_task_and_published_numbers_sit_beside_their_task_only(task):
    """Like with like: MeQSum's published ROUGE only beside MeQSum answers, PubMedQA's win rates only
    beside PubMedQA (or unrecorded) answers; the numbers are the task files' (read here with plain YAML)."""
    import yaml

    from evaluation.report import strict
    from evaluation.report_render import render_markdown

    generations = [{"id": str(i), "reference": f"does drug {i} lower blood pressure in adults",
                    "outputs": {"sft": f"drug {i} and pressure", "dpo": f"does drug {i} lower blood pressure"},
                    **({"task": task} if task else {})} for i in range(6)]
    summary = build_summary([], generations=generations, bootstrap_rounds=200)
    assert summary["task"] == task
    text = render_markdown(strict(summary))
    configs = Path(__file__).resolve().parents[2] / "configs" / "tasks"
    meqsum = {r["metric"]: r for r in yaml.safe_load((configs / "meqsum.yaml").read_text())["published"]}
    columns = [f"{t}_{p}" for t in ("rouge1", "rouge2", "rougeL") for p in ("fmeasure", "precision", "recall")]
    dpo_row = "| dpo | published | " + " | ".join(f"{meqsum[c]['dpo']:.2f}" for c in columns) + " |"
    assert (dpo_row in text) == (task == "meqsum")
    assert ("Summarization" in text) == (task == "meqsum")
    assert (f"ROUGE against the reference answers, task {task}" if task else "(task not recorded)") in text
    assert ("| DPO Model | 0.63 |" in text) == (task != "meqsum")
