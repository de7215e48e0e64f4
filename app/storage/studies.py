"""Studies: create one (items, answers and the units of work they yield), find and list them."""

from __future__ import annotations

import itertools
import json
import re

from sqlmodel import Session, select

from app.models import Answer, Item, Study, Unit
from app.storage.base import StorageError, checked_text, fold, visible_text
from app.study_files import StudyItem
from evaluation.kinds import DEFAULT_KIND, Kind, KindError, get_kind
from evaluation.plan import AnalysisPlan
from evaluation.rubric import Rubric

MAX_STUDY_NAME_CHARS = 100
MAX_GUIDELINES_CHARS = 100_000


def parse_comparisons(text: str | None, systems: list[str]) -> list[tuple[str, str]]:
    """'sft:dpo,base:dpo' -> [("sft", "dpo"), ("base", "dpo")]; None or "" -> every pair, in order."""
    if not text:
        return list(itertools.combinations(systems, 2))
    pairs = []
    for part in text.split(","):
        names = tuple(s.strip() for s in part.split(":"))
        if len(names) != 2 or names[0] == names[1] or not set(names) <= set(systems):
            raise StorageError(f"--pairs: {part.strip()!r} is not two different systems from {systems}, like sft:dpo")
        if names in pairs or names[::-1] in pairs:
            raise StorageError(f"--pairs names {part.strip()!r} twice")
        pairs.append(names)
    return pairs


def _check_names(name: str, systems: list[str]) -> None:
    checked_text(name, "the study name", limit=MAX_STUDY_NAME_CHARS, required=True)
    if "/" in name or visible_text(name) != name or not name.isprintable():
        raise StorageError(f"the study name {name!r} may not contain '/', invisible or control characters")
    if len(systems) < 1 or len({fold(s) for s in systems}) != len(systems) or not all(fold(s) for s in systems):
        raise StorageError(f"systems must be distinct non-empty names, got {systems}")
    for system in systems:  # physicians see the study name: it must not unblind them
        if re.search(rf"(?<![a-z0-9]){re.escape(fold(system))}(?![a-z0-9])", fold(name)):
            raise StorageError(f"the study name {name!r} reveals the system name {system!r}; physicians see it")


def _kind(name) -> Kind:
    try:
        return get_kind(name)
    except KindError as exc:
        raise StorageError(str(exc)) from None


def create_study(
    session: Session,
    *,
    name: str,
    systems: list[str] | tuple[str, ...],
    items: list[StudyItem],
    kind: str = DEFAULT_KIND,
    comparisons: list[tuple[str, str]] | None = None,
    rubric: Rubric | None = None,
    gold_items: list[StudyItem] = (),
    overlap: int = 1,
    seed: int = 0,
    guidelines: str = "",
    source_name: str = "",
    source_sha256: str = "",
    plan: AnalysisPlan | None = None,
) -> Study:
    """A study with its items, each system's answer and the units its kind makes of them."""
    kind, systems = _kind(kind), list(systems)
    _check_names(name, systems)
    try:
        comparisons = kind.plan(systems, comparisons, rubric, bool(gold_items))
    except KindError as exc:
        raise StorageError(str(exc)) from None
    checked_text(guidelines, "the guidelines", limit=MAX_GUIDELINES_CHARS)
    if session.exec(select(Study).where(Study.name == name)).first() is not None:
        raise StorageError(f"study {name!r} already exists")
    if not 1 <= overlap <= 1000:
        raise StorageError("overlap must be between 1 and 1000")
    if not 0 <= seed < 2**63:
        raise StorageError("the seed must be a whole number from 0 to 2**63 - 1")
    clash = {i.external_id for i in items} & {g.external_id for g in gold_items}
    if clash:
        raise StorageError(f"gold item id(s) also in the answers file: {sorted(clash)[:5]}")
    study = Study(
        name=name, kind=kind.name, systems=json.dumps(systems), rubric=rubric.to_json() if rubric else "", overlap=overlap,
        seed=seed, guidelines=guidelines, source_name=source_name, source_sha256=source_sha256,
        **_plan_columns(plan or AnalysisPlan(), systems),
    )
    session.add(study)
    session.flush()
    for position, entry in enumerate([*items, *gold_items]):
        _add_item(session, study, kind, position, entry, comparisons)
    session.flush()
    return study


def _add_item(session: Session, study: Study, kind: Kind, position: int, entry: StudyItem, comparisons) -> None:
    item = Item(
        study_id=study.id, external_id=entry.external_id, position=position, question=entry.question,
        context=entry.context, reference=entry.reference, is_gold=entry.gold_system is not None,
        gold_system=entry.gold_system,
    )
    session.add(item)
    session.flush()
    answers = {}
    for system in study.system_names:
        answers[system] = Answer(item_id=item.id, system=system, text=entry.answers[system])
        session.add(answers[system])
    session.flush()
    for unit in kind.units(comparisons, item.gold_system):
        slots = [answers[system].id for system in unit.systems]
        session.add(Unit(study_id=study.id, item_id=item.id, answer_1_id=slots[0],
                         answer_2_id=slots[1] if len(slots) > 1 else None, comparison=unit.comparison,
                         is_gold=unit.is_gold))


def get_study(session: Session, name: str) -> Study:
    study = session.exec(select(Study).where(Study.name == name)).first()
    if study is None:
        raise StorageError(f"no study named {name!r}")
    return study


def list_studies(session: Session) -> list[Study]:
    return list(session.exec(select(Study).order_by(Study.created_at)))


def _plan_columns(plan: AnalysisPlan, systems: list[str]) -> dict:
    """The analysis plan's columns (issue 20), its target checked against the study's systems."""
    if plan.target is not None and plan.target not in systems:
        raise StorageError(f"the analysis plan's target system {plan.target!r} is not one of {systems}")
    return {"primary_estimand": plan.primary, "target_system": plan.target, "alpha": plan.alpha,
            "planned_physicians": plan.planned_physicians, "planned_items": plan.planned_items,
            "max_share": plan.max_share}


def study_plan(study: Study) -> dict:
    """The study's analysis plan as evaluation.report.build_summary takes it."""
    return AnalysisPlan(primary=study.primary_estimand or "decisive", target=study.target_system,
                        alpha=study.alpha if study.alpha is not None else 0.05,
                        planned_physicians=study.planned_physicians, planned_items=study.planned_items,
                        max_share=study.max_share).as_dict()


def study_rubric(study: Study) -> Rubric | None:
    return Rubric.from_json(study.rubric) if study.rubric else None


def study_comparisons(session: Session, study: Study) -> list[str]:
    """The comparisons (e.g. "sft:dpo") or, for ratings, the systems a study hands out."""
    rows = session.exec(select(Unit.comparison).where(Unit.study_id == study.id).distinct())
    return sorted(rows)
