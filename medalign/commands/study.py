"""`medalign study create|list|show|members`: judging studies in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evaluation.kinds import StudyKind, get_kind
from medalign.errors import add_commands, warn
from medalign.options import DB

err = Console(stderr=True, soft_wrap=True)
out = Console()


def study_create(
    name: Annotated[str, typer.Option("--name", help="Unique study name (physicians see it: it must not name a system).")],
    answers: Annotated[Path, typer.Option("--answers", help="JSONL: id, question, context?, reference?, outputs{system: text}.")],
    systems: Annotated[str, typer.Option("--systems", help="Systems to judge, e.g. sft,dpo or base,sft,dpo.")] = "sft,dpo",
    kind: Annotated[StudyKind, typer.Option(
        "--kind", help="pairwise: answers side by side; rating: one answer on a rubric.")] = StudyKind.pairwise,
    pairs: Annotated[str | None, typer.Option(
        "--pairs", help="Pairwise: which system pairs, e.g. sft:dpo,base:dpo (default: every pair).")] = None,
    rubric: Annotated[Path | None, typer.Option("--rubric", help="Rating: the rubric YAML (see configs/rubrics/).")] = None,
    overlap: Annotated[int, typer.Option("--overlap", help="Physicians per comparison (pairwise) or per answer (rating).")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of each physician's order and sides.")] = 0,
    guidelines: Annotated[Path | None, typer.Option("--guidelines", help="Markdown shown to physicians.")] = None,
    gold: Annotated[Path | None, typer.Option("--gold", help="Pairwise: JSONL of attention-check items with 'better': system.")] = None,
    primary: Annotated[str, typer.Option("--primary", help="Analysis plan: the number that heads the report: decisive "
                                         "(wins / (wins + losses), the paper's 0.63) or all (wins / all judgments).")
                       ] = "decisive",
    target: Annotated[str | None, typer.Option("--target", help="Analysis plan: the system whose win rate is primary "
                                               "(default: dpo, else the last).")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Analysis plan: two-sided level of the headline test.")] = 0.05,
    planned_physicians: Annotated[int | None, typer.Option("--planned-physicians", help="Analysis plan: physicians the "
                                                           "study will have (see `report power`); the dashboard marks "
                                                           "the interval interim until reached.")] = None,
    planned_items: Annotated[int | None, typer.Option("--planned-items", help="Analysis plan: items to be judged.")] = None,
    max_share: Annotated[float | None, typer.Option("--max-share", help="Largest share of the judgments one physician "
                                                    "may make, e.g. 0.3 (default: no cap).")] = None,
    physician_sample: Annotated[int | None, typer.Option("--physician-sample", help="Physicians are assigned a uniform "
                                                         "random sample of N items (seeded, recorded); a model judge "
                                                         "judges all, and the report's PPI interval combines both.")
                                ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse, instead of warning, when an answer names a system, "
                                         "model or training stage, or both answers of a pair are identical.")] = False,
    db: DB = None,
) -> None:
    """Import a generation file as a study (one transaction: all lines or none), with its analysis
    plan declared before any judgment."""
    from app.study_create import StudyRequest, create_study_from_files  # the browser's form uses it too

    request = StudyRequest(
        name=name, answers=answers, systems=systems, kind=kind, pairs=pairs, rubric=rubric, overlap=overlap, seed=seed,
        guidelines=guidelines, gold=gold, primary=primary, target=target, alpha=alpha,
        planned_physicians=planned_physicians, planned_items=planned_items, max_share=max_share,
        physician_sample=physician_sample, strict=strict)
    for line in create_study_from_files(db, request, warn):
        err.print(line)


def _systems_text(study) -> str:
    return (" vs " if get_kind(study.kind).answers_per_unit == 2 else ", ").join(study.system_names)


def study_list(db: DB = None) -> None:
    from app import storage  # SQLModel: start-up cost
    from app.admin import in_transaction

    def rows(session):
        return [(s, storage.study_counts(session, s)) for s in storage.list_studies(session)]

    table = Table("study", "kind", "systems", "items", "gold", "overlap", "judgments", "target")
    for study, counts in in_transaction(db, rows):
        table.add_row(study.name, str(study.kind), _systems_text(study), str(counts["items"]),
                      str(counts["gold_items"]), str(study.overlap), str(counts["judgments"]), str(counts["target"]))
    out.print(table)


def study_show(name: Annotated[str, typer.Argument(help="Study name.")], db: DB = None) -> None:
    """Progress per physician, with gold-item accuracy."""
    from app import storage  # SQLModel: start-up cost
    from app.admin import in_transaction

    def read(session):
        study = storage.get_study(session, name)
        return study, storage.study_counts(session, study), storage.study_progress(session, study)

    study, counts, rows = in_transaction(db, read)
    out.print(f"[bold]{study.name}[/bold] ({study.kind}): {_systems_text(study)}, {counts['items']} items "
              f"(+{counts['gold_items']} gold), overlap {study.overlap}, {counts['judgments']} judgments")
    table = Table("physician", "assigned", "judged", "gold judged", "gold accuracy")
    for row in rows:
        accuracy = "-" if row["gold_accuracy"] is None else f"{row['gold_accuracy']:.2f}"
        label = row["physician"] + (" (simulated)" if row["simulated"] else "")
        table.add_row(label, str(row["assigned"]), str(row["judged"]), str(row["gold_judged"]), accuracy)
    out.print(table)


def study_members(
    name: Annotated[str, typer.Argument(help="Study name.")],
    add: Annotated[str | None, typer.Option("--add", help="Physicians to add, comma-separated (NAME[,NAME]).")] = None,
    db: DB = None,
) -> None:
    """List a study's physicians, or add some (--add). A study with members is shown to and
    assigned to its members only; one without members is open to every physician."""
    from app import storage  # SQLModel: start-up cost
    from app.admin import in_transaction

    names = [n.strip() for n in (add or "").split(",") if n.strip()]

    def change(session):
        study = storage.get_study(session, name)
        added = storage.add_members(session, study, names) if names else []
        return added, [u.name for u in storage.study_members(session, study)]

    added, members = in_transaction(db, change)
    if added:
        out.print(f"added to {name}: {', '.join(added)}")
    out.print(f"members of {name}: {', '.join(members) if members else 'none (open to every physician)'}")


def register(root: typer.Typer) -> None:
    group = typer.Typer(help="Create and inspect judging studies.", no_args_is_help=True)
    root.add_typer(add_commands(group, {"create": study_create, "list": study_list, "show": study_show,
                                              "members": study_members}), name="study")
