"""Time `medalign report` on synthetic judgment exports of 10k, 100k and 1M judgments.

The exports look like the app's (every contract column, answer texts of 10-80 words, three
systems compared pairwise, 5% gold, physicians flagging some answers as evasive); the 1M file
has 20,000 items and 200 physicians, as in issue 11. Each size is run `--repeats` times as a
separate `medalign report` process (wall time includes reading the file, every bootstrap at
1,000 resamples and writing the report); peak memory is the child's maximum resident set. The
baseline is `medalign report` as it was before issue 11 (git commit BASELINE, run from a `git
archive` copy of the project) on the 10k file only: the issue found it did not finish 100k in 16
minutes. A plot of time against size is
written next to the results.

    .venv/bin/python bench/report_scale.py --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import csv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.contract import PAIRWISE_COLUMNS, Choice  # noqa: E402

BASELINE = "4905c76"  # contract codes in place, statistics as before issue 11
SIZES = {10_000: (200, 20), 100_000: (2_000, 50), 1_000_000: (20_000, 200)}  # judgments: (items, physicians)
SYSTEMS = ("base", "sft", "dpo")
WORDS = ("the", "patients", "treatment", "reduced", "risk", "trial", "was", "associated", "with", "lower", "mortality",
         "no", "difference", "in", "outcomes", "yes", "study", "improved", "symptoms", "consult", "your", "doctor")


def synthetic_export(path: Path, judgments: int, items: int, physicians: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    item = rng.integers(0, items, judgments)
    rater = rng.integers(0, physicians, judgments)
    pair = rng.integers(0, 3, judgments)  # base-sft, base-dpo, sft-dpo
    first = np.array([0, 0, 1])[pair]
    second = np.array([1, 2, 2])[pair]
    swap = rng.random(judgments) < 0.5
    side_a, side_b = np.where(swap, second, first), np.where(swap, first, second)
    quality = np.array([-0.4, 0.0, 0.5])
    p_a = 1 / (1 + np.exp(-(quality[side_a] - quality[side_b] + rng.normal(0, 0.5, physicians)[rater])))
    u = rng.random(judgments)
    choice = np.where(u < 0.08, 2, np.where(u < 0.12, 3, np.where(rng.random(judgments) < p_a, 0, 1)))
    codes = np.array([c.value for c in Choice])
    systems = np.array(SYSTEMS)
    answers = items * len(SYSTEMS)
    lengths = rng.integers(10, 80, answers)
    pool = rng.integers(0, len(WORDS), (answers, 80))
    texts = np.array([". ".join(" ".join(WORDS[w] for w in pool[a, start:min(start + 12, lengths[a])])
                               for start in range(0, lengths[a], 12)) + "." for a in range(answers)], dtype=object)
    gold = rng.random(judgments) < 0.05  # gold pairs: the better system is known; physicians get 90% right
    better_is_a = quality[side_a] > quality[side_b]
    right = rng.random(judgments) < 0.9
    choice = np.where(gold, np.where(better_is_a == right, 0, 1), choice)
    gold_better = np.where(gold, np.where(better_is_a, systems[side_a], systems[side_b]), "")
    preferred = np.where(choice == 0, systems[side_a], np.where(choice == 1, systems[side_b], ""))
    columns = {
        "study": np.full(judgments, "scale"), "item_id": np.char.add("q", item.astype(str)),
        "rater": np.char.add("doc", rater.astype(str)), "rater_simulated": np.zeros(judgments, bool), "is_gold": gold,
        "gold_better": gold_better, "sequence": np.arange(judgments), "system_a": systems[side_a],
        "system_b": systems[side_b], "choice": codes[choice], "preferred_system": preferred,
        "evasive_a": rng.random(judgments) < 0.1, "evasive_b": rng.random(judgments) < 0.1,
        "question": np.char.add("Question ", item.astype(str)), "context": np.full(judgments, ""),
        "reference": np.full(judgments, ""), "answer_a": texts[item * 3 + side_a], "answer_b": texts[item * 3 + side_b],
        "rationale": np.full(judgments, ""), "time_on_task_ms": rng.integers(5_000, 90_000, judgments),
        "created_at": np.full(judgments, "2026-11-22T08:00:00"), "updated_at": np.full(judgments, "2026-11-22T08:00:00"),
        "revisions": np.zeros(judgments, np.int64), "app_version": np.full(judgments, "0.2"),
    }
    assert list(columns) == PAIRWISE_COLUMNS
    csv.write_csv(pa.table({k: pa.array(v.tolist() if v.dtype == object else v) for k, v in columns.items()}), path)


# A fresh parent per run, so that the children's peak memory is this run's alone.
_MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(r.returncode)")


def timed(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of one child process."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    seconds, peak_kib = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(peak_kib) / 2**20


def baseline_tree(workdir: Path) -> Path:
    """The whole project as it was at BASELINE, to run its own `medalign report` from."""
    tree = workdir / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


# Where the time goes, in one process: imports, reading, statistics, writing (CPU and wall seconds).
STAGES_SCRIPT = """
import sys, time
clock = lambda: (time.perf_counter(), time.process_time())
marks = [clock()]
import medalign.cli  # what `medalign` imports before the report runs; the rest is charged to the stage that loads it
from evaluation.table import read_judgments
from evaluation.report import build_summary, write_report
marks.append(clock())
table = read_judgments(sys.argv[1]); marks.append(clock())
summary = build_summary(table); marks.append(clock())
write_report(summary, table, sys.argv[2]); marks.append(clock())
print(" ".join(f"{b[0] - a[0]:.2f}/{b[1] - a[1]:.2f}" for a, b in zip(marks, marks[1:])))
"""

BASELINE_SCRIPT = "import sys; from medalign.cli import main; sys.argv[0] = 'medalign'; main()"  # its `medalign`


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["judgments"] for r in rows]
    ax.plot(sizes, [r["median_s"] for r in rows], marker="o", label="medalign report (median)")
    base = [r for r in rows if r.get("baseline_s")]
    if base:
        ax.plot([r["judgments"] for r in base], [r["baseline_s"] for r in base], marker="x", linestyle="none",
                color="tab:red", label=f"before issue 11 ({BASELINE})")
    ax.plot([1e5, 1e6], [2, 10], linestyle="none", marker="_", markersize=20, color="grey", label="targets (2 s, 10 s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("judgments")
    ax.set_ylabel("seconds (2 cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--results", type=Path)
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "report_scale.png")
    args = parser.parse_args(argv)
    medalign = str(Path(sys.executable).with_name("medalign"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in args.sizes:
            items, physicians = SIZES.get(size, (max(1, size // 50), max(2, size // 5000)))
            export = work / f"judgments_{size}.csv"
            synthetic_export(export, size, items, physicians)
            runs = [timed([medalign, "report", "--judgments", str(export), "--out", str(work / f"out_{size}_{k}")])
                    for k in range(args.repeats)]
            row = {"judgments": size, "items": items, "physicians": physicians, "file_mb": export.stat().st_size / 2**20,
                   "times": [t for t, _ in runs], "median_s": statistics.median(t for t, _ in runs),
                   "peak_gib": max(m for _, m in runs)}
            stages = subprocess.run([sys.executable, "-c", STAGES_SCRIPT, str(export), str(work / f"stages_{size}")],
                                    capture_output=True, text=True, check=True).stdout.split()
            row["stages"] = dict(zip(("imports", "read", "statistics", "write"), stages, strict=True))
            if size == 10_000 and not args.no_baseline:
                tree = baseline_tree(work)
                env = {**os.environ, "PYTHONPATH": str(tree)}
                row["baseline_s"], row["baseline_peak_gib"] = timed(
                    [sys.executable, "-c", BASELINE_SCRIPT, "report", "--judgments", str(export), "--out",
                     str(work / "out_baseline")], env=env, cwd=tree)  # cwd: its own packages, not ours
            rows.append(row)
            print(row, flush=True)
    plot(rows, args.plot)
    table = ["| judgments | items | physicians | file (MiB) | median s (runs) | peak memory (GiB) | baseline s | ratio | "
             "wall/CPU s: imports, read, statistics, write |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = f"{r['baseline_s']:.1f}" if r.get("baseline_s") else "-"
        ratio = f"{r['baseline_s'] / r['median_s']:.0f}x faster" if r.get("baseline_s") else "-"
        table.append(f"| {r['judgments']:,} | {r['items']:,} | {r['physicians']} | {r['file_mb']:.0f} | {r['median_s']:.2f} "
                     f"({', '.join(f'{t:.2f}' for t in r['times'])}) | {r['peak_gib']:.2f} | {base} | {ratio} | "
                     f"{', '.join(r['stages'].values())} |")
    load = os.getloadavg()
    text = "\n".join(table) + (f"\n\nLoad average during the run (other engineers' jobs share the 2 cores): "
                                f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min).")
    print(text)
    if args.results:
        command = "python bench/report_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with args.results.open("a") as handle:
            handle.write(f"\n## Report at scale (bench/report_scale.py)\n\n2026-11-22, 2-core CPU, 24 GiB; `{command}`. "
                         f"Wall time of `medalign report --judgments FILE.csv --out DIR` (reading, every statistic, every "
                         f"bootstrap at 1,000 resamples, plots, report files), three systems, median of the runs; "
                         f"targets: 100k < 2 s, 1M < 10 s and 2 GB. Baseline: the report before issue 11 ({BASELINE}) on "
                         f"the same 10k file. Plot: bench/{args.plot.name}.\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
