"""The README's checklist "Adding a study kind", followed once: a binary accept/reject kind defined
only in this module goes from units through entry checks, storage, export, parsing and its
report, with storage, exports and the report entry finding it through the registry alone.

(A real kind would also get a UI panel registered under its `panel` name; this one is judged
through storage directly, as the simulated raters and API clients do.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

import pytest
from statsmodels.stats.proportion import proportion_confint

from app import storage
from app.exports import write_export
from app.study_files import read_study_items
from data.files import write_atomic
from data.records import DataError
from evaluation import kinds
from evaluation.judgments import read_for_report
from evaluation.kinds.base import Judged, Kind, KindError, Shown, UnitPlan, parse_bool, require, typed
from tests.app.conftest import write_answers

VERDICTS = ("accept", "reject")


class AcceptJudgment(TypedDict):
    study: str
    item_id: str
    rater: str
    rater_simulated: bool
    rater_kind: str  # "physician" or "model"
    sequence: int
    system: str
    verdict: str  # "accept" or "reject"
    question: str
    context: str
    reference: str
    answer: str
    rationale: str
    time_on_task_ms: int
    created_at: str
    updated_at: str
    revisions: int
    app_version: str


COLUMNS = tuple(AcceptJudgment.__annotations__)


def plan(systems, comparisons, rubric, has_gold):
    if rubric is not None or has_gold:
        raise KindError("an accept study has no rubric and no gold items")
    return [(system,) for system in systems]


def units(comparisons, gold_system):
    return [UnitPlan(systems) for systems in comparisons]


def validate(values: Mapping, shown: tuple[Shown, ...], rubric) -> dict:
    if values.get("choice") not in VERDICTS:
        raise KindError(f"the verdict must be one of {list(VERDICTS)}")
    # Stored in the existing columns: no migration needed for this kind.
    return {"choice": values["choice"], "preferred_system": shown[0].system if values["choice"] == "accept" else None}


def export_rows(common: dict, judged: Judged, rubric) -> list[dict]:
    (answer,) = judged.shown
    return [AcceptJudgment(**common, system=answer.system, verdict=judged.choice, answer=answer.text)]


def parse_row(row: Mapping, *, file: str = "<rows>", line: int = 0) -> dict:
    require(row, ("item_id", "rater", "system", "verdict"), file, line)
    if row["verdict"] not in VERDICTS:
        raise DataError(f"verdict must be one of {list(VERDICTS)}, got {row['verdict']!r}", file=file, line=line,
                        field="verdict")
    out = typed(row, COLUMNS)
    out["rater_simulated"] = parse_bool(row.get("rater_simulated", False), file=file, line=line,
                                        field="rater_simulated")
    return out


def write_accept_report(rows: list[dict], settings: dict, out_dir: Path) -> list[Path]:
    """Per system: the accepted share with a Wilson 95% interval (assumes independent judgments)."""
    systems = {}
    for system in sorted({r["system"] for r in rows}):
        mine = [r for r in rows if r["system"] == system]
        accepted = sum(r["verdict"] == "accept" for r in mine)
        low, high = proportion_confint(accepted, len(mine), method="wilson")
        systems[system] = {"n": len(mine), "accepted": accepted, "rate": accepted / len(mine),
                           "ci_low": low, "ci_high": high}
    path = Path(out_dir) / "summary.json"
    write_atomic(path, json.dumps({"kind": "accept", "settings": settings, "systems": systems}, indent=2).encode())
    return [path]


ACCEPT = Kind(
    name="accept", description="one answer at a time, accepted or rejected", answers_per_unit=1,
    plan=plan, units=units, validate=validate, export_rows=export_rows, columns=COLUMNS,
    signature=frozenset({"system", "verdict"}), parse_row=parse_row, report=write_accept_report, panel="accept",
)


@pytest.fixture
def accept_kind(monkeypatch):
    monkeypatch.setitem(kinds.KINDS, ACCEPT.name, ACCEPT)  # the checklist's "a line in KINDS"
    return ACCEPT


def judge_everything(engine, study, users, verdict_of):
    judged = []
    for user in users:
        while True:
            with storage.transaction(engine) as session:
                assignment = storage.next_assignment(session, study, user)
                if assignment is None:
                    break
                view = storage.show_unit(session, user, assignment.id)
                assert view.kind == "accept" and view.answer_b is None
                verdict = verdict_of(user.name, view.answer_a)
                storage.submit_judgment(session, user, assignment.id, choice=verdict, rationale="checked")
                judged.append((user.name, view.answer_a, verdict))
    return judged


def test_a_new_kind_goes_from_units_to_its_report_through_the_registry(accept_kind, engine, tmp_path, make_user):
    items = read_study_items(write_answers(tmp_path / "answers.jsonl", 5), ("sft", "dpo"))
    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="acceptance", kind="accept", systems=("sft", "dpo"), items=items,
                                     overlap=2)
        assert sorted(storage.study_comparisons(session, study)) == ["dpo", "sft"]
    users = [make_user("dr_a"), make_user("dr_b")]

    # dr_a accepts every DPO answer and the SFT answers of even items; dr_b only DPO answers.
    def verdict_of(rater, answer):
        even = int(re.search(r"(\d+)", answer).group(1)) % 2 == 0
        return "accept" if answer.startswith("DPO") or (rater == "dr_a" and even) else "reject"

    judged = judge_everything(engine, study, users, verdict_of)
    assert len(judged) == 20  # 5 items x 2 systems x 2 physicians

    # A bad verdict is refused on entry, with the kind's message, and changes nothing stored.
    extra = make_user("dr_c")
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "acceptance")
        assert storage.next_assignment(session, study, extra) is None  # overlap 2 is full
    with pytest.raises(storage.StorageError, match="verdict must be one of"), storage.transaction(engine) as session:
        first = storage.last_judged_assignment(session, study, users[1])
        storage.revise_judgment(session, users[1], first.id, choice="maybe")

    with storage.transaction(engine) as session:
        study = storage.get_study(session, "acceptance")
        rows = storage.export_judgments(session, study)
        settings = storage.study_settings(session, study)
    assert len(rows) == 20 and set(rows[0]) <= set(COLUMNS)  # what storage fills in, all declared by the kind
    expected = {s: sum(v == "accept" for _r, a, v in judged if a.lower().startswith(s)) for s in ("sft", "dpo")}
    assert expected == {"sft": 3, "dpo": 10}

    # The study's own rows reach the report as they are; the export file comes back through the parser.
    from_study = accept_kind.write_report(rows, settings, tmp_path / "study-report")
    export = tmp_path / "acceptance.csv"
    write_export(rows, "csv", export, settings["kind"])
    assert export.read_text().splitlines()[0] == ",".join(f'"{c}"' for c in COLUMNS)
    kind, parsed = read_for_report(export)
    assert kind is accept_kind and [r["verdict"] for r in parsed] == [r["verdict"] for r in rows]
    from_file = kind.write_report(parsed, {"judgments_file": str(export)}, tmp_path / "file-report")

    study_summary = json.loads(from_study[0].read_text())["systems"]
    file_summary = json.loads(from_file[0].read_text())["systems"]
    assert study_summary == file_summary
    for system, accepted in expected.items():
        low, high = proportion_confint(accepted, 10, method="wilson")
        assert study_summary[system]["accepted"] == accepted
        assert study_summary[system]["ci_low"] == pytest.approx(low) and study_summary[system]["ci_high"] == pytest.approx(high)


def test_a_bad_row_of_the_new_kind_names_file_line_and_field(accept_kind, tmp_path):
    path = tmp_path / "bad.jsonl"
    good = {"item_id": "q1", "rater": "dr_a", "system": "sft", "verdict": "accept"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "verdict": "perhaps"}) + "\n")
    with pytest.raises(DataError) as caught:
        read_for_report(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 2, "verdict")


def test_storage_and_exports_name_no_kind():
    """Storage and exports ask the registry; only the kind modules know a kind by name."""
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"\bStudyKind\b|[\"'](pairwise|rating)[\"']")
    for path in [*sorted((root / "app" / "storage").glob("*.py")), root / "app" / "exports.py"]:
        hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
        assert not hits, f"{path.relative_to(root)} names a study kind on line(s) {hits}"
