"""Start-up of the command line (issue 26): `medalign --help` and a few command helps, each as its
own process, alternating with a bare `python -c pass` in the same run, so that both see the same
machine load. Reports the median wall and CPU seconds (user + system of the child) of each, and
which heavy libraries each command's start-up imports (from `python -X importtime`).
Target: `medalign --help` < 0.3 s; torch, transformers, gradio and statsmodels imported only by
commands that use them.

    .venv/bin/python bench/startup.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "gradio", "statsmodels", "scipy", "sqlalchemy", "sklearn", "matplotlib", "pandas")
BASELINE = [sys.executable, "-c", "pass"]
COMMANDS = {"medalign --help": ["--help"], "medalign report --help": ["report", "--help"],
            "medalign report power --help": ["report", "power", "--help"], "medalign train --help": ["train", "--help"],
            "medalign serve --help": ["serve", "--help"]}


def medalign(*args: str) -> list[str]:
    """The installed console script when there is one (what a user runs), else `python -m medalign`."""
    script = Path(sys.executable).with_name("medalign")
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "medalign", *args]


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env={**os.environ, "COLUMNS": "100"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_imports(args: list[str]) -> list[str]:
    """Which HEAVY top-level packages `medalign ARGS` imports (python -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "medalign", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "100"})
    found = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    return sorted(found & set(HEAVY))


def measure(runs: int) -> dict:
    times: dict[str, list[tuple[float, float]]] = {"python -c pass": [], **{name: [] for name in COMMANDS}}
    for k in range(runs):
        names = list(times) if k % 2 == 0 else list(reversed(times))  # who goes first alternates
        for name in names:
            times[name].append(timed(BASELINE if name == "python -c pass" else medalign(*COMMANDS[name])))
    return {name: {"wall": statistics.median(w for w, _ in runs_), "cpu": statistics.median(c for _, c in runs_),
                   "walls": [w for w, _ in runs_]} for name, runs_ in times.items()}


def render(result: dict, imports: dict, runs: int, load: tuple[float, ...], command: str) -> str:
    base = result["python -c pass"]
    help_ = result["medalign --help"]
    verdict = "met" if help_["wall"] < 0.3 else f"missed by {help_['wall'] - 0.3:.2f} s"
    if load[0] > (os.cpu_count() or 1):  # wall time then measures the queue for a core, not the command
        verdict += (f" at load {load[0]:.1f} on {os.cpu_count()} cores: read the CPU seconds and the same-run "
                    "difference to `python -c pass`")
    lines = ["## Start-up of the command line (bench/startup.py, issue 26)", "",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()}-core CPU, load average at the start "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min); `{command}`. Each command is its own "
             f"process, {runs} runs, alternating with `python -c pass` in the same run; medians.", "",
             "| command | wall s (median) | CPU s (median) | wall minus `python -c pass` | heavy libraries imported |",
             "|---|---|---|---|---|"]
    for name, row in result.items():
        heavy = ", ".join(imports.get(name, [])) or "none"
        lines.append(f"| `{name}` | {row['wall']:.3f} | {row['cpu']:.3f} | {row['wall'] - base['wall']:+.3f} | "
                     f"{heavy if name != 'python -c pass' else '-'} |")
    lines += ["", f"Target `medalign --help` < 0.3 s: {verdict} ({help_['wall']:.3f} s wall, {help_['cpu']:.3f} s CPU; "
              f"heavy libraries checked: {', '.join(HEAVY)}).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    for name in ("python -c pass", *COMMANDS):  # warm the file cache: the first run reads every .pyc from disk
        timed(BASELINE if name == "python -c pass" else medalign(*COMMANDS[name]))
    result = measure(args.runs)
    imports = {name: heavy_imports(command) for name, command in COMMANDS.items()}
    print(render(result, imports, args.runs, load, "python bench/startup.py " + " ".join(argv or sys.argv[1:])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
