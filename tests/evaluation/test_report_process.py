"""`medalign report --judgments` as a process: what it imports (issue 26: scipy.stats, statsmodels and
their pandas cost ~0.6 s of CPU, and the report has its own code for what it took from them), and
its quick exit. Checked from sys.modules in a fresh interpreter, not timed (bench/report_scale.py times)."""

from __future__ import annotations

import csv
import gc
import subprocess
import sys
from pathlib import Path

from medalign.commands import report as report_command
from tests.evaluation.conftest import synthetic_study

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("scipy.stats", "statsmodels", "scipy.optimize")
REPORT = """
import sys
from medalign.cli import main
sys.argv = ["medalign", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print("IMPORTED", *sorted(m for m in {LIBRARIES} if m in sys.modules))
""".replace("{LIBRARIES}", repr(LIBRARIES))


def _export(path: Path) -> Path:
    rows = synthetic_study(0.6, items=60, raters=6, overlap=3)  # kappa pairs, a power planner, both placements
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_report_imports_neither_scipy_stats_nor_statsmodels(tmp_path):
    export = _export(tmp_path / "judgments.csv")
    done = subprocess.run([sys.executable, "-c", REPORT, "report", "--judgments", str(export), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "summary.json").is_file()
    imported = done.stdout.split("IMPORTED", 1)[1].split()
    assert imported == [], done.stderr[-2000:]


def test_the_report_freezes_its_objects_at_exit_once(monkeypatch):
    registered = []
    monkeypatch.setattr("atexit.register", registered.append)
    report_command._quick_exit.cache_clear()
    report_command._quick_exit()
    report_command._quick_exit()
    assert registered == [gc.freeze]
    report_command._quick_exit.cache_clear()  # a later report in this process registers it for real
