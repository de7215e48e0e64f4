"""Start-up of the command line (issue 26): the help of every command, and commands that need no
model, web app or regression, import none of torch, transformers, gradio or statsmodels. Checked in
a fresh interpreter from sys.modules (not timed: bench/startup.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "gradio", "statsmodels")

# Every command path's --help, run one after the other in one interpreter; then what it imported.
EVERY_HELP = """
import json, sys
import typer.main
from typer.testing import CliRunner
from medalign.cli import app

def paths(command, prefix):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from paths(sub, prefix + [name])

runner = CliRunner()
failed = []
for path in paths(typer.main.get_command(app), []):
    result = runner.invoke(app, [*path, "--help"])
    if result.exit_code != 0:
        failed.append([path, result.output[-500:]])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print(json.dumps({"failed": failed, "heavy": heavy}))
"""

ONE_COMMAND = """
import sys
from medalign.cli import main
sys.argv = ["medalign", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("HEAVY", sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers", "gradio", "statsmodels"}),
      "EXIT", code, file=sys.stderr)
"""


def _heavy_after(*args: str, cwd: Path = ROOT) -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", ONE_COMMAND, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)
    line = [x for x in done.stderr.splitlines() if x.startswith("HEAVY ")][-1]
    heavy = line.split("HEAVY ", 1)[1].split(" EXIT ")[0]
    return json.loads(heavy.replace("'", '"')), done.stderr


def test_medalign_help_imports_no_heavy_library():
    heavy, stderr = _heavy_after("--help")
    assert heavy == [], stderr[-2000:]
    assert "EXIT 0" in stderr


def test_no_command_help_imports_a_heavy_library():
    done = subprocess.run([sys.executable, "-c", EVERY_HELP, *HEAVY], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == []
    assert result["heavy"] == []


def test_commands_without_models_import_none(tmp_path):
    heavy, stderr = _heavy_after("tasks", "list")
    assert heavy == [], stderr[-2000:]
    # the report has its own code for what it took from statsmodels (kappa, Mantel-Haenszel, the planner), and
    # uses no model or web app (tests/evaluation/test_report_process.py checks scipy.stats and scipy.optimize too)
    export = tmp_path / "judgments.csv"
    export.write_text("item_id,rater,system_a,system_b,choice,preferred_system\n"
                      "q1,doc1,sft,dpo,a,sft\nq2,doc1,dpo,sft,a,dpo\nq3,doc2,sft,dpo,b,dpo\n")
    heavy, stderr = _heavy_after("report", "--judgments", str(export), "--out", str(tmp_path / "out"))
    assert "EXIT 0" in stderr, stderr[-2000:]
    assert heavy == [], stderr[-2000:]
