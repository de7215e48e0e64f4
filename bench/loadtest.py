"""Many physicians at once against a real server process, optionally killed with SIGKILL and
restarted mid-run (the engine: medalign/testing/load.py). Every acknowledged judgment must be
stored exactly once with the values sent, no unit may exceed its overlap, no physician may see a
unit twice.

    python bench/loadtest.py --physicians 50 --judgments 20 [--kind rating] [--crash] [--postgres] [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from medalign.testing.load import PASSWORD, REPO, ServerProcess, free_port, machine, run  # noqa: F401  (bench/security.py, bench/app_vs_bare.py)
from medalign.testing.postgres import postgres_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--physicians", type=int, default=50)
    parser.add_argument("--judgments", type=int, default=20)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--kind", choices=["pairwise", "rating"], default="pairwise",
                        help="a pairwise study (sft vs dpo) or a rating study (summary-quality rubric)")
    parser.add_argument("--crash", action="store_true", help="SIGKILL the server halfway and restart it")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server instead of SQLite")
    parser.add_argument("--pause", type=float, nargs=2, default=(0.2, 1.0), help="seconds between judgments (min max)")
    parser.add_argument("--results", type=Path, help="append the figures to this Markdown file")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="medalign-load-") as tmp:
        workdir = Path(tmp)
        if args.postgres:
            with postgres_server() as url:
                result = run(url, physicians=args.physicians, judgments=args.judgments, overlap=args.overlap, crash=args.crash,
                             pause=tuple(args.pause), workdir=workdir, kind=args.kind)
        else:
            result = run(f"sqlite:///{workdir / 'load.db'}", physicians=args.physicians, judgments=args.judgments,
                         overlap=args.overlap, crash=args.crash, pause=tuple(args.pause), workdir=workdir, kind=args.kind)
    print(json.dumps(result, indent=2))
    if args.results:
        command = "python bench/loadtest.py " + " ".join(sys.argv[1:])
        write_results(args.results, f"Load{' + SIGKILL' if args.crash else ''} ({result['database']}, {args.kind} study)", result, command)


def write_results(path: Path, title: str, result: dict, command: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## {title}\n", f"- date: {stamp}", f"- machine: {machine()}", f"- command: `{command}`", "```json",
             json.dumps(result, indent=2), "```"]
    with path.open("a") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
