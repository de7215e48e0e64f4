"""Every command that reads a file, run on two corpora of bad inputs (issue 23): ours
(tests/corpus/bad_inputs/, made by gen.py: devices, folders, binary, over-long lines, over-size
files, hostile YAML, --out at a user's folder or file) and an independent one written from the
README alone by someone who had not read the code (tests/corpus/independent/). No traceback, no
hang, nothing run from YAML, no database change after a refusal, no user file deleted or changed,
and every bad input refused; the controls in each corpus must pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medalign.testing.corpus import load_cases, run_all

CORPORA = Path(__file__).resolve().parent / "corpus"
HARD = ("traceback", "no answer", "MEDALIGN_PWNED", "database changed", "deleted or changed the user's file")


def _run(name: str) -> list[dict]:
    cases_file = CORPORA / name / "cases.json"
    if not cases_file.is_file():
        pytest.skip(f"{cases_file} is not there")
    cwd = os.getcwd()
    try:
        results = run_all(load_cases(cases_file.parent))
    finally:
        os.chdir(cwd)
    if os.environ.get("MEDALIGN_FIGURES"):
        with open(os.environ["MEDALIGN_FIGURES"], "a") as handle:
            handle.write(json.dumps({"name": f"corpus_{name}", "value": {
                "cases": len(results), "tracebacks": sum(r["traceback"] for r in results),
                "hung": sum(r["hung"] for r in results), "max_seconds": max(r["seconds"] for r in results),
                "other_problems": [f"{r['argv']} {Path(r['file'] or '').name}: {r['problems']}"
                                   for r in results if r["problems"]]}}) + "\n")
    return results


@pytest.mark.slow
def test_our_corpus_is_refused_cleanly():
    results = _run("bad_inputs")
    assert len(results) >= 100
    hard = [(r["argv"], r["file"], r["problems"]) for r in results if any(h in p for p in r["problems"] for h in HARD)]
    assert hard == []
    wrong = [(r["argv"], r["file"], r["problems"]) for r in results
             if any(p.startswith(("accepted", "control refused", "left ")) for p in r["problems"])]
    assert wrong == []
    unnamed = [r for r in results if "message does not name the file" in r["problems"]]
    assert unnamed == []  # data prepare on an empty file names it (it said "<input>" before)


@pytest.mark.slow
def test_independent_corpus_has_no_traceback_and_leaves_the_database_alone():
    results = _run("independent")
    hard = [(r["argv"], r["file"], r["problems"]) for r in results if any(h in p for p in r["problems"] for h in HARD)]
    assert hard == []
