"""The README's main command without serving: every artefact, then round 2 of training from the
(simulated) judgments, then a real browser judging a pair in the demo app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app import storage
from app.db import open_database
from medalign.cli import app
from medalign.demo.run import run_demo
from medalign.demo.studies import RATING_STUDY, READABLE_STUDY, TINY_STUDY

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    summary = run_demo(workdir, simulate_raters=3, serve=False)
    return workdir, summary


def test_demo_artefacts(demo):
    workdir, summary = demo
    for path in ("data/train.jsonl", "data/holdout.jsonl", "model/model.safetensors", "sft/merged/model.safetensors",
                 "sft/run.json", "pairs/pairs.jsonl", "dpo/merged/model.safetensors", "dpo/metrics.jsonl",
                 "dpo/reward_margin.png", "generations.jsonl", "hq.json", "report/report.md", "report/report.html",
                 "report/summary.json", "report/win_rate.png", "report/reward_margin.png", "report/hq.png"):
        assert (workdir / path).is_file(), path
    generations = [json.loads(line) for line in (workdir / "generations.jsonl").read_text().splitlines()]
    assert len(generations) == 16 and all(set(g["outputs"]) == {"base", "sft", "dpo"} for g in generations)
    assert {h["system"] for h in json.loads((workdir / "hq.json").read_text())} == {"base", "sft", "dpo"}
    dpo_run = json.loads((workdir / "dpo/run.json").read_text())
    assert dpo_run["reward_margin_last"] > dpo_run["reward_margin_first"]

    engine = open_database(summary["database"])
    with storage.transaction(engine) as session:
        counts = {name: storage.study_counts(session, storage.get_study(session, name))
                  for name in (TINY_STUDY, READABLE_STUDY, RATING_STUDY)}
        tiny_rows = storage.export_judgments(session, storage.get_study(session, TINY_STUDY))
        rating_rows = storage.export_judgments(session, storage.get_study(session, RATING_STUDY))
        users = {u.name: u for u in storage.list_users(session)}
    # base/sft/dpo: three comparisons per item; ratings: one unit per answer (2 systems)
    assert counts[TINY_STUDY]["items"] == 16 and counts[TINY_STUDY]["units"] == 48
    assert counts[READABLE_STUDY]["units"] == 12 and counts[RATING_STUDY]["units"] == 24
    # physicians judge a declared random sample of 8 of the 16 items (24 units); the tiny model judges all 48
    model_rows = [r for r in tiny_rows if r["rater_kind"] == "model"]
    tiny_rows = [r for r in tiny_rows if r["rater_kind"] == "physician"]
    assert len(model_rows) == 48 and {r["rater"] for r in model_rows} == {"tiny-judge"}
    assert len(tiny_rows) == 3 * 24 and all(r["rater_simulated"] for r in tiny_rows)
    assert len({r["item_id"] for r in tiny_rows}) == 8
    assert {frozenset((r["system_a"], r["system_b"])) for r in tiny_rows} == {
        frozenset(p) for p in (("base", "sft"), ("base", "dpo"), ("sft", "dpo"))}
    assert len(rating_rows) == 3 * 24 and {r["criterion"] for r in rating_rows} == {"quality"}
    assert users["demo-physician"].role.value == "physician" and not users["demo-physician"].simulated
    assert summary["simulated_judgments"] == 3 * (24 + 12 + 24)
    report = json.loads((workdir / "report/summary.json").read_text())
    assert report["counts"]["judgments"] == 72 and report["counts"]["simulated_raters"] == ["sim-rater-1", "sim-rater-2", "sim-rater-3"]
    assert "(simulated)" in (workdir / "report/report.md").read_text()
    ppi = report["win_rate"]["ppi"]  # the judge's prediction-powered interval beside the physicians-only one
    assert ppi["model_judgments"] == 32 and ppi["physician_judgments"] == 3 * 16 and "physicians_only" in ppi
    ratings = json.loads((workdir / "report" / RATING_STUDY / "summary.json").read_text())
    assert "rating" in json.dumps(ratings) and (workdir / "report" / RATING_STUDY / "report.html").is_file()
    assert set(summary["logins"]) == {"demo-physician", "demo-researcher"}


def test_demo_classification_study_table(demo):
    """The triage study (base -> SFT -> DPO with --task's template, targets and pairs) and its comparison table."""
    workdir, _ = demo
    compare = workdir / "triage" / "compare"
    table = (compare / "compare.md").read_text()
    assert "| metric | base | sft | dpo | P sft -> dpo (Holm) |" in table
    assert "| macro_f1 (higher is better) |" in table and "Compute per training stage" in table
    study = json.loads((compare / "summary.json").read_text())
    holdout = len((workdir / "triage/data/holdout.jsonl").read_text().splitlines())
    assert study["task"]["name"] == "triage" and study["n_examples"] == holdout == 8
    assert study["systems"] == ["base", "sft", "dpo"] and study["primary_metric"] == "macro_f1"
    assert {(c["first"], c["second"]) for c in study["comparisons"]} == {("base", "sft"), ("sft", "dpo"), ("base", "dpo")}
    assert all(0 <= c["p_value"] <= c["p_holm"] <= 1 for c in study["comparisons"])
    assert study["compute"]["dpo_over_sft"]["tokens_processed"] > 0
    labels = ["emergent", "urgent", "non-urgent"]
    record = json.loads((workdir / "triage/generations.run.json").read_text())["systems"]
    for system in ("base", "sft", "dpo"):
        rows = [json.loads(line) for line in (workdir / f"triage/{system}.jsonl").read_text().splitlines()]
        assert len(rows) == 8 and all(r["task"] == "triage" and r["system"] == system for r in rows)
        # constrained to the task's labels (training/choices.py): every answer parses, the accuracy is real
        assert all(r["parsed"] in labels and r["raw_output"] == r["parsed"] for r in rows)
        assert study["per_system"][system]["unparsed"] == 0
        assert study["per_system"][system]["accuracy"]["value"] == sum(r["parsed"] == r["gold"] for r in rows) / 8
        assert record[system]["settings"]["choices"] == labels and record[system]["stats"]["decoding"] == "choices"
    assert "| unparseable answers (scored wrong) | 0 | 0 | 0 |" in table
    pairs = json.loads((workdir / "triage/pairs/pairs.json").read_text())
    assert pairs["source"]["task"] == "triage" and pairs["counts"]["pairs"] == 22 and pairs["counts"]["sft_unparsed"] == 0
    for stage in ("sft", "dpo"):
        assert json.loads((workdir / f"triage/{stage}/run.json").read_text())["config"]["task"]["name"] == "triage"


def test_demo_rerun_skips_finished_steps(demo, capsys):
    workdir, first = demo
    summary = run_demo(workdir, simulate_raters=3, serve=False)
    assert summary["simulated_judgments"] == 0  # everything was judged already
    assert summary["logins"] != first["logins"]  # demo passwords are new on every run
    first["logins"] = summary["logins"]
    err = capsys.readouterr().err
    assert err.count("up to date, skipped") == 9


def test_round_two_from_judgments(demo, monkeypatch):
    workdir, summary = demo
    monkeypatch.setenv("MEDALIGN_DATABASE_URL", summary["database"])
    result = runner.invoke(app, ["train", "feedback", "--study", TINY_STUDY, "--out", str(workdir / "round2/pairs"),
                                 "--min-agreement", "0.6", "--merge", str(workdir / "pairs")])
    assert result.exit_code == 0, result.output
    counts = json.loads((workdir / "round2/pairs/pairs.json").read_text())["counts"]
    assert counts["pairs"] > 0 and counts["merged_pairs"] >= counts["pairs"]
    ratings_out = workdir / "round2/rating-pairs"
    result = runner.invoke(app, ["train", "feedback", "--study", RATING_STUDY, "--out", str(ratings_out),
                                 "--criterion", "quality", "--margin", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((ratings_out / "pairs.json").read_text())["counts"]["items"] == 12
    result = runner.invoke(app, ["train", "dpo", "--config", "configs/tiny/dpo.yaml", "--pairs", str(workdir / "round2/pairs"),
                                 "--set", f"model_name_or_path={workdir / 'dpo/merged'}", "--set", f"output_dir={workdir / 'round2/dpo'}",
                                 "--set", "training.num_train_epochs=1"])
    assert result.exit_code == 0, result.output
    assert json.loads((workdir / "round2/dpo/run.json").read_text())["counts"]["pairs_used"] == counts["merged_pairs"]


@pytest.mark.browser
def test_demo_physician_judges_in_a_browser(demo):
    from medalign.demo.run import free_port, start_server
    from medalign.testing.browser import browser_page, chromium_path, log_in, shown_text

    chromium_path()
    workdir, summary = demo
    engine = open_database(summary["database"])
    server, _thread, url = start_server(engine, "127.0.0.1", free_port())
    try:
        with browser_page() as page:
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            log_in(page, url, "demo-physician", summary["logins"]["demo-physician"])
            page.locator("#study_picker input").click()
            page.get_by_role("option", name=READABLE_STUDY).click()
            page.wait_for_selector("text=0 of 12 judged", timeout=30_000)
            assert shown_text(page, "answer_a")
            page.locator("body").click(position={"x": 5, "y": 5})
            page.keyboard.press("1")
            page.keyboard.press("Enter")
            page.wait_for_selector("text=1 of 12 judged", timeout=30_000)
            assert dialogs == []
    finally:
        server.should_exit = True
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, storage.get_study(session, READABLE_STUDY))
    mine = [r for r in rows if r["rater"] == "demo-physician"]
    assert len(mine) == 1 and mine[0]["choice"] == "a" and mine[0]["preferred_system"] == mine[0]["system_a"]
