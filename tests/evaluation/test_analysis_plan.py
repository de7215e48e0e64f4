"""The analysis plan is stored with the study (migration 0006), checked, and caps one physician's
share of the judgments; the report leads with the plan's primary estimand."""

import pytest

from app import storage
from app.db import open_database
from app.storage.studies import study_plan
from app.study_files import read_study_items
from evaluation.plan import AnalysisPlan, PlanError, interim_status
from tests.app.conftest import PASSWORD, write_answers


def _study(tmp_path, plan, n=10, overlap=1):
    engine = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    items = read_study_items(write_answers(tmp_path / "a.jsonl", n), ("sft", "dpo"))
    with storage.transaction(engine) as session:
        storage.create_study(session, name="s", systems=["sft", "dpo"], items=items, overlap=overlap, plan=plan)
        for name in ("d1", "d2", "d3"):
            storage.add_user(session, name, "physician", PASSWORD)
    return engine


def test_plan_is_stored_and_read_back(tmp_path):
    plan = AnalysisPlan(primary="all", target="dpo", alpha=0.01, planned_physicians=5, planned_items=100,
                        max_share=0.3)
    engine = _study(tmp_path, plan)
    with storage.transaction(engine) as session:
        stored = study_plan(storage.get_study(session, "s"))
    assert stored == plan.as_dict()


def test_default_plan_is_the_decisive_rate(tmp_path):
    engine = _study(tmp_path, None)
    with storage.transaction(engine) as session:
        stored = study_plan(storage.get_study(session, "s"))
    assert stored["primary"] == "decisive" and stored["alpha"] == 0.05 and stored["max_share"] is None


@pytest.mark.parametrize("fields, field", [({"primary": "ties"}, "primary"), ({"alpha": 0.7}, "alpha"),
                                           ({"planned_items": 0}, "planned items"), ({"max_share": 1.5}, "max share"),
                                           ({"max_share": 0.1, "planned_physicians": 5}, "max share")])
def test_bad_plans_are_refused_naming_the_field(fields, field):
    with pytest.raises(PlanError, match=field):
        AnalysisPlan(**fields)


def test_unknown_target_is_refused(tmp_path):
    with pytest.raises(storage.StorageError, match="target system"):
        _study(tmp_path, AnalysisPlan(target="gpt"))


def test_max_share_caps_one_physicians_judgments(tmp_path):
    engine = _study(tmp_path, AnalysisPlan(max_share=0.4), n=10)
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "s")
        eager = storage.get_user(session, "d1")
        taken = 0
        while (assignment := storage.next_assignment(session, study, eager)) is not None:
            storage.submit_judgment(session, eager, assignment.id, choice="a")
            taken += 1
        assert taken == 4  # 40% of 10 slots; the rest is left to the others
        other = storage.get_user(session, "d2")
        assert storage.next_assignment(session, study, other) is not None


def test_interim_until_the_planned_size():
    plan = AnalysisPlan(planned_physicians=5, planned_items=100).as_dict()
    assert interim_status(plan, 3, 100)["text"].startswith("interim: 3 of 5 planned physicians")
    assert interim_status(plan, 5, 100)["final"]
    assert not interim_status(AnalysisPlan().as_dict(), 50, 500)["final"]


def test_report_of_a_study_leads_with_its_declared_primary(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from medalign.cli import app

    runner = CliRunner()
    monkeypatch.setenv("MEDALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("PW", "long-enough-pw")
    answers = write_answers(tmp_path / "a.jsonl", 6)
    bad = runner.invoke(app, ["study", "create", "--name", "p", "--answers", str(answers), "--primary", "ties"])
    assert bad.exit_code != 0 and "primary" in bad.output and "Traceback" not in bad.output
    created = runner.invoke(app, ["study", "create", "--name", "pilot", "--answers", str(answers), "--overlap", "2",
                                  "--primary", "all", "--planned-physicians", "5", "--planned-items", "6"])
    assert created.exit_code == 0, created.output
    for name in ("d1", "d2"):
        assert runner.invoke(app, ["users", "add", name, "--role", "physician", "--password-env", "PW"]).exit_code == 0
    with storage.transaction(open_database()) as session:
        study = storage.get_study(session, "pilot")
        for name in ("d1", "d2"):
            user = storage.get_user(session, name)
            while (assignment := storage.next_assignment(session, study, user)) is not None:
                storage.submit_judgment(session, user, assignment.id, choice="b" if assignment.id % 3 else "tie")
    result = runner.invoke(app, ["report", "--study", "pilot", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["analysis_plan"]["declared"] and summary["analysis_plan"]["primary"] == "all"
    assert summary["win_rate"]["headline"]["definition"] == "all"
    text = (tmp_path / "r" / "report.md").read_text()
    assert "declared in the study's analysis plan" in text and "wins / all judgments (ties and both bad" in text
    assert "Planned size: 5 physicians, 6 items; reached: 2 physicians" in text


def test_report_of_an_export_uses_primary_from_the_command_line(tmp_path):
    import json

    from typer.testing import CliRunner

    from medalign.cli import app
    from tests.evaluation.conftest import synthetic_study

    rows = synthetic_study(0.63, items=60, raters=6, overlap=2, seed=2, tie_share=0.3)
    export = tmp_path / "j.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    for primary, words in ((None, "the default: no analysis plan"), ("all", "chosen with --primary")):
        out = tmp_path / f"r{primary}"
        args = ["report", "--judgments", str(export), "--out", str(out)] + (["--primary", primary] if primary else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        summary = json.loads((out / "summary.json").read_text())
        headline = summary["win_rate"]["headline"]
        assert headline["definition"] == (primary or "decisive")
        wr = summary["win_rate"]
        assert headline["estimate"] == pytest.approx(wr["rate"] if primary else wr["rate_decisive"])
        assert words in (out / "report.md").read_text()
    bad = runner.invoke(app, ["report", "--judgments", str(export), "--out", str(tmp_path / "x"), "--primary", "x"])
    assert bad.exit_code != 0 and "primary" in bad.output and "Traceback" not in bad.output


def test_summary_json_leads_with_the_primary_number():
    from evaluation.report import build_summary
    from tests.evaluation.conftest import synthetic_study

    rows = synthetic_study(0.63, items=120, raters=6, overlap=2, seed=4, tie_share=0.2)
    summary = build_summary(rows, bootstrap_rounds=100)
    first_key, lead = next(iter(summary.items()))
    assert first_key == "headline" and lead["definition"] == "decisive"
    assert lead["estimate"] == summary["win_rate"]["rate_decisive"] and "wins / (wins + losses)" in lead["what"]
    assert lead["p_value_vs_0_5"] == summary["win_rate"]["headline"]["p_value"]
    assert "random samples" in lead["population"] and "6 physicians" in lead["population"]
