"""The demo's model judge (issue 21): the tiny model judges every unit of the PubMedQA study; the
simulated physicians judge a declared uniform random sample of half its items; the console shows
the judge's validation table and the prediction-powered interval. The tiny model is no physician
and its verdicts mean nothing: the pipeline is the point."""

from __future__ import annotations

from sqlmodel import select

from app import storage
from app.models import Assignment, User
from app.storage.raters import draw_physician_sample, judge_units, model_rater, store_verdicts
from medalign.demo.studies import TINY_STUDY  # noqa: F401  (run.py reads it from here)

JUDGE_NAME = "tiny-judge"


def declare_physician_sample(engine) -> int | None:
    """Half of the tiny study's items as the physicians' random sample, once, before any physician work."""
    with storage.transaction(engine) as session:
        study = storage.get_study(session, TINY_STUDY)
        if study.physician_sample is not None:
            return study.physician_sample
        started = session.exec(select(Assignment.id).join(User, User.id == Assignment.user_id)
                               .where(Assignment.study_id == study.id, User.rater_kind == "physician")).first()
        if started is not None:  # an older demo database: its physicians judged every item
            return None
        items = len({u["item_id"] for u in judge_units(session, study)})
        draw_physician_sample(session, study, max(2, items // 2))
        return study.physician_sample


def run_demo_judge(engine, paths) -> dict:
    """Judge every unit with the tiny model (cached: a re-run costs nothing) and store the verdicts."""
    from training.judge.config import JudgeConfig
    from training.judge.runner import run_judge

    config = JudgeConfig(name=JUDGE_NAME, backend="transformers", model=str(paths.model), decoding="choice",
                         cache_dir=str(paths.root / "judge-cache"))
    with storage.transaction(engine) as session:
        units = judge_units(session, storage.get_study(session, TINY_STUDY))
    result = run_judge(units, "pairwise", config, progress=False)
    with storage.transaction(engine) as session:
        store_verdicts(session, storage.get_study(session, TINY_STUDY), model_rater(session, JUDGE_NAME),
                       result.verdicts)
    return result.record


def judge_report_text(engine) -> str:
    from evaluation.ppi_report import judge_summary, render_text

    with storage.transaction(engine) as session:
        study = storage.get_study(session, TINY_STUDY)
        rows, declared = storage.export_judgments(session, study), study.physician_sample is not None
    section = judge_summary(rows, kind="pairwise", target="dpo", declared_sample=declared)
    return "no model-rater judgments" if section is None else render_text(section)
