"""The demo's studies, logins, simulated raters and reports.

Three studies: hand-written readable answers judged pairwise (sft vs dpo), the tiny model's
base/SFT/DPO answers judged pairwise (three comparisons), and the readable answers graded one at
a time on the summary-quality rubric (a PubMedQA long answer summarises its abstract).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from app import storage
from app.admin import in_transaction, study_judgments
from app.study_files import read_study_items
from data.config_files import configs_dir
from data.generations import read_generations
from evaluation.kinds import get_kind
from evaluation.report import read_run
from evaluation.rubric import load_rubric
from medalign.demo.simulate import simulate_rater

ROOT = Path(__file__).resolve().parents[2]
READABLE_PAIRS = ROOT / "data" / "sample" / "readable_pairs.jsonl"
SUMMARY_RUBRIC = configs_dir() / "rubrics" / "summary-quality.yaml"  # shipped: any folder (issue 24)
TINY_STUDY = "pubmedqa-tiny-model"
READABLE_STUDY = "readable-examples"
RATING_STUDY = "readable-grades"
DEMO_USERS = (("demo-physician", "physician"), ("demo-researcher", "researcher"))


@dataclass(frozen=True)
class DemoStudy:
    name: str
    kind: str
    systems: tuple[str, ...]
    source: str  # "generations" (the tiny model's answers) or "readable" (hand-written)
    description: str
    guidelines: str
    rubric: Path | None = None


DEMO_STUDIES = (
    DemoStudy(READABLE_STUDY, "pairwise", ("sft", "dpo"), "readable", "readable synthetic answers, side by side",
              "**Synthetic example answers written for this demo** (not model output), so that the judging screen "
              "shows realistic text. Prefer the accurate, direct answer; tick *evasive* when an answer takes no "
              "position."),
    DemoStudy(TINY_STUDY, "pairwise", ("base", "sft", "dpo"), "generations", "tiny model answers, three comparisons",
              "Answers written by a **tiny demonstration model** trained in seconds on synthetic data: they are not "
              "readable medicine. Judge which is closer to a useful answer."),
    DemoStudy(RATING_STUDY, "rating", ("sft", "dpo"), "readable", "readable answers graded one at a time",
              "Grade each answer as a **summary of the abstract** shown under *Context*: does it keep the clinically "
              "important finding, add nothing that is not there, and say it briefly? These are synthetic example "
              "answers written for this demo.", SUMMARY_RUBRIC),
)


def create_demo_studies(paths, *, overlap: int) -> None:
    """Create each demo study that does not exist yet (one slot more than the simulated raters take,
    for the demo physician)."""
    def create(session) -> None:
        existing = {s.name for s in storage.list_studies(session)}
        for study in DEMO_STUDIES:
            if study.name in existing:
                continue
            source = paths.generations if study.source == "generations" else READABLE_PAIRS
            storage.create_study(
                session, name=study.name, kind=study.kind, systems=study.systems,
                items=read_study_items(source, study.systems), rubric=load_rubric(study.rubric) if study.rubric else None,
                overlap=overlap, seed=0, guidelines=study.guidelines, source_name=source.name,
            )

    in_transaction(paths.db_url, create)


def demo_logins(engine) -> dict[str, str]:
    """New passwords on every demo run: printed once by the caller, stored only hashed."""
    logins = {}
    with storage.transaction(engine) as session:
        for name, role in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            if storage.get_user(session, name) is None:
                storage.add_user(session, name, role, password)
            else:
                storage.set_password(session, name, password)
            logins[name] = password
    return logins


def simulate(engine, url: str, raters: int) -> int:
    """Simulated physicians judge every demo study through the running server."""
    submitted = 0
    for i in range(1, raters + 1):
        name, password = f"sim-rater-{i}", secrets.token_urlsafe(12)
        with storage.transaction(engine) as session:
            if storage.get_user(session, name) is None:
                storage.add_user(session, name, "physician", password, simulated=True)
            else:
                storage.set_password(session, name, password)
        for study in DEMO_STUDIES:
            submitted += simulate_rater(url, name, password, study.name, seed=i)
    return submitted


def write_demo_reports(engine, paths) -> list[Path]:
    """The tiny model study's full report in report/, each other study's in report/<study>/."""
    written = []
    for study in DEMO_STUDIES:
        stored = study_judgments(engine, study.name)
        from medalign.commands.judge import add_judge_sections, physicians_only

        physician_rows, judge_rows = physicians_only(stored.rows, None)  # the model judge is no physician (issue 21)
        rows, settings = physician_rows, {**stored.settings, "note": "demo: simulated raters"}
        out = paths.reports if study.name == TINY_STUDY else paths.reports / study.name
        generated = study.source == "generations"
        get_kind(study.kind).write_report(rows, settings, out, target="dpo",
                                          generations=read_generations(paths.generations) if generated else None,
                                          run=read_run(paths.dpo) if generated else None)
        if judge_rows:
            add_judge_sections(judge_rows, study.kind, out, target="dpo", study=study.name, db=engine,
                               physician_sample=None, primary=None)
        written.append(out)
    return written
