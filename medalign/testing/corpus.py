"""Run a bad-input corpus (cases.json: file, argv, expect, env, no_output) through the `medalign`
command in this process and judge each case (issue 23).

A case fails when the command ends in a traceback (an exception escaping the command, or
"Traceback" in its output), prints MEDALIGN_PWNED, takes longer than the time limit, leaves a
`no_output` path behind, changes the database after a refusal, or (expect: refuse) exits 0 or
does not name the file; `accept` cases must exit 0. Used by tests/test_bad_input_corpus.py and,
against an older revision, by bench/security.py:

    python -m medalign.testing.corpus CASES.json [--app medalign.cli:app] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TIME_LIMIT_S = 60


class _Hung(Exception):
    pass


@contextlib.contextmanager
def _environment(values: dict):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _rows(db_file: Path) -> list[str]:
    """Data rows of a SQLite database (the schema and Alembic's version row are not data)."""
    if not db_file.is_file():
        return []
    connection = sqlite3.connect(db_file)
    try:
        return [line for line in connection.iterdump() if line.startswith("INSERT INTO")
                and "alembic_version" not in line]
    finally:
        connection.close()


def _fill(value: str, file: str | None, tmp: Path) -> str:
    return value.replace("{file}", file or "").replace("{tmp}", str(tmp))


USER_FILE = b"years of work\n"


def _make(app, what: str | None, tmp: Path, env: dict) -> None:
    """Paths a case needs made in its scratch folder (tests/corpus/bad_inputs/gen.py names them)."""
    from typer.testing import CliRunner

    if what == "a_folder":
        (tmp / "a_folder").mkdir()
    elif what == "long_line.jsonl":  # one line over MEDALIGN_MAX_LINE_BYTES (8 MiB), never closed
        (tmp / what).write_bytes(b'{"id": "q1", "question": "' + b"x" * (9 << 20))
    elif what == "over_size.jsonl":  # over the size limit, which the case lowers to 1000 bytes
        (tmp / what).write_bytes(b'{"id": "q1", "question": "fine"}\n' * 100)
        env["MEDALIGN_MAX_INPUT_BYTES"] = "1000"
    elif what == "over_size.yaml":  # over the YAML size limit, lowered to 1000 bytes
        (tmp / what).write_bytes(b"# padding\n" * 200 + b"name: x\n")
        env["MEDALIGN_MAX_CONFIG_BYTES"] = "1000"
    elif what == "loop.jsonl":
        (tmp / what).symlink_to(tmp / what)
    elif what in ("victim", "victim_and_study"):
        (tmp / "victim").mkdir()
        (tmp / "victim" / "thesis.tex").write_bytes(USER_FILE)
        if what == "victim_and_study":
            answers = REPO / "tests/corpus/bad_inputs/ok_answers.jsonl"
            with _environment(env):
                made = CliRunner().invoke(app, ["study", "create", "--name", "s1", "--answers", str(answers)])
            assert made.exit_code == 0, made.output


def run_case(app, case: dict, tmp: Path) -> dict:
    from typer.testing import CliRunner

    file = case.get("file")
    argv = [_fill(a, file, tmp) for a in case["argv"]]
    if argv and argv[0] == "medalign":
        argv = argv[1:]
    env = {k: _fill(v, file, tmp) for k, v in (case.get("env") or {}).items()}
    _make(app, case.get("make"), tmp, env)
    db_file = None
    url = env.get("MEDALIGN_DATABASE_URL", "")
    if url.startswith("sqlite:///"):
        db_file = Path(url[len("sqlite:///"):])
    before = _rows(db_file) if db_file else []

    def alarm(*_):
        raise _Hung()

    started = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(TIME_LIMIT_S)
    hung = False
    try:
        with _environment(env):
            result = CliRunner().invoke(app, argv, catch_exceptions=True)
    except _Hung:
        hung, result = True, None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - started
    if result is not None and isinstance(result.exception, _Hung):
        hung = True
    output = "" if result is None else (result.output or "")
    escaped = result is not None and result.exception is not None and not isinstance(result.exception, SystemExit)
    traceback = escaped or "Traceback" in output
    code = None if result is None else result.exit_code
    problems = []
    if hung:
        problems.append(f"no answer within {TIME_LIMIT_S} s")
    if traceback:
        kind = type(result.exception).__name__ if escaped else "printed"
        problems.append(f"traceback ({kind}: {str(result.exception)[:200] if escaped else ''})")
    if "MEDALIGN_PWNED" in output:
        problems.append("MEDALIGN_PWNED printed")
    expect = case.get("expect", "refuse")
    refused = code not in (0, None)
    if expect == "accept" and code != 0:
        problems.append(f"control refused (exit {code}): {output.strip()[-300:]}")
    if expect == "refuse" and not hung:
        if not refused:
            problems.append("accepted (exit 0)")
        elif file and Path(file).name not in output and not traceback:
            problems.append("message does not name the file")
        elif case.get("names") and case["names"] not in output:
            problems.append(f"message does not name {case['names']}")
    for path in case.get("keep") or []:  # a user's file: survives every command, refused or not
        kept = Path(_fill(path, file, tmp))
        if not kept.is_file() or kept.read_bytes() != USER_FILE:
            problems.append(f"deleted or changed the user's file {path}")
    if refused:
        for path in case.get("no_output") or []:
            if Path(_fill(path, file, tmp)).exists():
                problems.append(f"left {path} behind")
        if db_file and _rows(db_file) != before:
            problems.append("database changed after a refusal")
    return {"argv": " ".join(case["argv"][:3]), "file": file, "expect": expect, "exit": code,
            "seconds": round(seconds, 2), "traceback": traceback, "hung": hung, "problems": problems,
            "message": output.strip().splitlines()[-1][:300] if output.strip() else ""}


def load_cases(corpus: Path) -> list[dict]:
    """The cases of a corpus folder, its input files built first by its generator (gen_corpus.py)
    when any is missing: the repository keeps the generator and the case list, not the files."""
    cases = json.loads((corpus / "cases.json").read_text(encoding="utf-8"))
    generator = corpus / "gen_corpus.py"
    missing = [c["file"] for c in cases if c.get("file") and not os.path.lexists(REPO / c["file"])]
    if missing and generator.is_file():
        subprocess.run([sys.executable, generator.name], cwd=corpus, check=True, capture_output=True)
    return cases


def run_all(cases: list[dict], app_spec: str = "medalign.cli:app") -> list[dict]:
    module, name = app_spec.split(":")
    app = getattr(importlib.import_module(module), name)
    results = []
    os.chdir(REPO)  # the cases name files relative to the repository root
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run_case(app, case, Path(tmp)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", type=Path)
    parser.add_argument("--app", default="medalign.cli:app")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    results = run_all(json.loads(args.cases.read_text()), args.app)
    summary = {"cases": len(results), "tracebacks": sum(r["traceback"] for r in results),
               "hung": sum(r["hung"] for r in results), "failed": sum(bool(r["problems"]) for r in results)}
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "results": results}, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
