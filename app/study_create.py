"""Creating a study from an answers file: the one path for `medalign study create` and the
researcher's browser form (issue 22), so both check the same things, in the same order, with the
same words. Every refusal is a ValueError (DataError, StorageError or StudyRefused) whose text is
the one line the command prints after "error:" and the browser shows; nothing is stored unless
everything holds (the study, its items and a physician sample are written in one transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from data.records import DataError
from evaluation.kinds import StudyKind, get_kind


class StudyRefused(ValueError):
    """A study setting that cannot be used, worded as `study create` words it."""


@dataclass(frozen=True)
class StudyRequest:
    """What `medalign study create` takes (its options, by the same names)."""

    name: str
    answers: Path
    systems: str = "sft,dpo"
    kind: StudyKind = StudyKind.pairwise
    pairs: str | None = None
    rubric: Path | None = None
    overlap: int = 1
    seed: int = 0
    guidelines: Path | None = None
    gold: Path | None = None
    primary: str = "decisive"
    target: str | None = None
    alpha: float = 0.05
    planned_physicians: int | None = None
    planned_items: int | None = None
    max_share: float | None = None
    physician_sample: int | None = None
    strict: bool = False
    # How messages name the files (an upload is stored under a server path; its messages name the
    # file as the researcher chose it, as the command line would).
    shown: dict | None = None


@contextmanager
def _named(shown: dict | None):
    """DataErrors naming a stored upload's path name the researcher's file instead."""
    try:
        yield
    except DataError as exc:
        names = {str(k): v for k, v in (shown or {}).items()}
        if exc.file not in names:
            raise
        raise DataError(exc.message, file=names[exc.file], line=exc.line, record=exc.record, field=exc.field) from None


def _label(request: StudyRequest, path: Path) -> str:
    return (request.shown or {}).get(path, str(path))


def create_study_from_files(db, request: StudyRequest, warn: Callable[[str], None]) -> list[str]:
    """Check everything, then store the study in one transaction; returns the lines to tell the
    user (what was created). `warn` gets each warning as it is found (e.g. answers that could
    unblind physicians, refused instead with `strict`)."""
    # SQLModel and the storage functions cost start-up time: imported when a study is made.
    from app import storage
    from app.admin import in_transaction
    from app.study_files import blinding_warnings, check_study_name, read_study_items
    from data.tables import read_text, sha256_file
    from evaluation.plan import AnalysisPlan, PlanError
    from evaluation.rubric import load_rubric

    kind, name, answers = StudyKind(request.kind), request.name, request.answers
    names = [s.strip() for s in request.systems.split(",")]
    answers_per_unit = get_kind(kind).answers_per_unit
    needed = 2 if answers_per_unit == 2 else 1
    if len(names) < needed or not all(names) or len(set(names)) != len(names):
        raise StudyRefused(f"--systems needs {needed} or more different names, e.g. " + ("sft,dpo" if needed == 2 else "dpo"))
    comparisons = storage.parse_comparisons(request.pairs, names) if answers_per_unit == 2 else None
    check_study_name(name, in_transaction(db, lambda session: [s.name for s in storage.list_studies(session)]))
    with _named(request.shown):
        items = read_study_items(answers, names)
        gold_items = read_study_items(request.gold, names, gold=True) if request.gold else []
    unblinding = blinding_warnings(items, names)  # gold items may differ on purpose: not checked
    if unblinding:
        shown = "; ".join(unblinding[:5]) + (f"; and {len(unblinding) - 5} more" if len(unblinding) > 5 else "")
        if request.strict:
            raise StudyRefused(f"{_label(request, answers)}: {len(unblinding)} answers could unblind physicians "
                               f"(--strict): {shown}")
        warn(f"{_label(request, answers)}: {len(unblinding)} answers could unblind physicians: {shown} "
             "(--strict refuses)")
    with _named(request.shown):
        guideline_text = read_text(request.guidelines) if request.guidelines else ""
        rubric_model = load_rubric(request.rubric) if request.rubric else None
    try:
        plan = AnalysisPlan(primary=request.primary, target=request.target, alpha=request.alpha,
                            planned_physicians=request.planned_physicians, planned_items=request.planned_items,
                            max_share=request.max_share)
    except PlanError as exc:
        raise StudyRefused(f"analysis plan: {exc}") from None
    sample = request.physician_sample
    if sample is not None and not 1 <= sample <= len(items):
        raise StudyRefused(f"--physician-sample must be between 1 and the {len(items)} items of {_label(request, answers)}")

    def store(session):
        study = storage.create_study(
            session, name=name, kind=kind, systems=names, comparisons=comparisons, rubric=rubric_model, items=items,
            gold_items=gold_items, overlap=request.overlap, seed=request.seed, guidelines=guideline_text,
            source_name=Path(_label(request, answers)).name, source_sha256=sha256_file(answers), plan=plan)
        if sample is not None:  # issue 21: a declared random sample, as prediction-powered intervals need
            from app.storage.raters import draw_physician_sample

            draw_physician_sample(session, study, sample)
        return study.name

    created = in_transaction(db, store)
    told = []
    if sample is not None:
        told.append(f"physicians will judge a uniform random sample of {sample} of the {len(items)} items")
    what = (", ".join(f"{a} vs {b}" for a, b in comparisons) if comparisons
            else f"{', '.join(names)} rated on {rubric_model.name}")
    told.append(f"{kind.value} study {created!r}: {len(items)} items, {len(gold_items)} gold, {what}, "
                f"overlap {request.overlap}")
    return told
