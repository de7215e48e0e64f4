"""Run the blinding, injection and access tests and append their figures to bench/RESULTS.md.

    python bench/security.py [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import REPO, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        figures_path = Path(handle.name)
    env = {**os.environ, "MEDALIGN_FIGURES": str(figures_path)}
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "tests/app/test_security.py"],
                               cwd=REPO, env=env)
    figures = {}
    for line in figures_path.read_text().splitlines():
        entry = json.loads(line)
        figures[entry["name"]] = entry["value"]
    figures_path.unlink()
    figures["tests_passed"] = completed.returncode == 0
    print(json.dumps(figures, indent=2))
    if args.results:
        write_results(args.results, "Blinding, injection, access", figures, "python bench/security.py " + " ".join(sys.argv[1:]))
    sys.exit(completed.returncode)


if __name__ == "__main__":
    main()
