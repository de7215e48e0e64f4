"""Time `medalign report` on synthetic judgment exports of 10k, 100k and 1M judgments.

The exports look like the app's (every contract column; answers of 15-120 words, about 40 on
average, in sentences with numbers and commas, 17% as bullet lists over several lines, 8%
evasive; questions of 10-25 words; rationales of 5-35 words on 40% of judgments; three systems
compared pairwise; 5% gold; physicians flagging some answers as evasive; no abstracts); the 1M file
has 20,000 items and 200 physicians, as in issue 11. Each size is run `--repeats` times as a
separate `medalign report` process (wall time includes reading the file, every bootstrap at
1,000 resamples and writing the report); peak memory is the child's maximum resident set. With
`--baseline REV`, `medalign report` as of git revision REV (run from a `git archive` copy of the
project) runs on the same files, alternating with the current code, so that before and after
see the same machine load. A plot of time against size is written next to the results.

    .venv/bin/python bench/report_scale.py --baseline REV --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import csv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.contract import PAIRWISE_COLUMNS, Choice  # noqa: E402

SIZES = {10_000: (200, 20), 100_000: (2_000, 50), 1_000_000: (20_000, 200)}  # judgments: (items, physicians)
SYSTEMS = ("base", "sft", "dpo")
WORDS = ("the", "patients", "treatment", "reduced", "risk", "trial", "was", "associated", "with", "lower", "mortality",
         "no", "difference", "in", "outcomes", "yes", "study", "improved", "symptoms", "consult", "your", "doctor",
         "randomised", "cohort", "hazard", "ratio", "confidence", "interval", "significant", "adverse", "events",
         "follow-up", "months", "dose", "placebo", "compared", "baseline", "increase", "decrease", "analysis")
EVASIVE = ("I cannot give medical advice; please consult your doctor.", "It depends on many factors.",
           "More research is needed before anyone can say.")


def _sentence(rng: random.Random, words: int) -> str:
    chosen = rng.choices(WORDS, k=words)
    if words > 6:  # numbers and commas as in abstracts: "(95% CI 0.61, 0.93)"
        chosen.insert(rng.randrange(1, words), f"({rng.randrange(1, 99)}% CI 0.{rng.randrange(10, 99)}, "
                                               f"0.{rng.randrange(10, 99)}),")
    text = " ".join(chosen)
    return text[0].upper() + text[1:] + "."


def _answer_texts(rng, answers: int) -> pa.Array:
    """Answers of 15-120 words (about 40 on average) in sentences; some as bullet lists over several
    lines (quoted multi-line CSV cells), some evasive."""
    texts, words = [], random.Random(int(rng.integers(2**31)))
    for length in rng.gamma(4.0, 10.0, answers).clip(15, 120).astype(int).tolist():
        sentences = [_sentence(words, min(12, length - start)) for start in range(0, length, 12)]
        kind = words.random()
        if kind < 0.08:
            texts.append(EVASIVE[words.randrange(len(EVASIVE))])
        elif kind < 0.25:
            texts.append(sentences[0] + "\n" + "\n".join(f"- {s}" for s in sentences[1:]))
        else:
            texts.append(" ".join(sentences))
    return pa.array(texts, pa.string())


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
    texts = _answer_texts(rng, items * len(SYSTEMS))
    words = random.Random(seed)
    questions = pa.array([_sentence(words, int(n)).rstrip(".") + "?" for n in rng.integers(10, 25, items)])
    rationales = pa.array(["", *(_sentence(words, int(n)) for n in rng.integers(5, 35, 5_000))])
    rationale = np.where(rng.random(judgments) < 0.4, rng.integers(1, len(rationales), judgments), 0)
    gold = rng.random(judgments) < 0.05  # gold pairs: the better system is known; physicians get 90% right
    better_is_a = quality[side_a] > quality[side_b]
    right = rng.random(judgments) < 0.9
    choice = np.where(gold, np.where(better_is_a == right, 0, 1), choice)
    gold_better = np.where(gold, np.where(better_is_a, systems[side_a], systems[side_b]), "")
    preferred = np.where(choice == 0, systems[side_a], np.where(choice == 1, systems[side_b], ""))
    columns = {
        "study": np.full(judgments, "scale"), "item_id": pa.array([f"q{i}" for i in range(items)]).take(item),
        "rater": pa.array([f"doc{r}" for r in range(physicians)]).take(rater),
        "rater_simulated": np.zeros(judgments, bool), "rater_kind": np.full(judgments, "physician"), "is_gold": gold,
        "gold_better": gold_better, "sequence": np.arange(judgments), "system_a": systems[side_a],
        "system_b": systems[side_b], "choice": codes[choice], "preferred_system": preferred,
        "evasive_a": rng.random(judgments) < 0.1, "evasive_b": rng.random(judgments) < 0.1,
        "question": questions.take(item), "context": np.full(judgments, ""),
        "reference": np.full(judgments, ""), "answer_a": texts.take(item * 3 + side_a),
        "answer_b": texts.take(item * 3 + side_b),
        "rationale": rationales.take(rationale), "time_on_task_ms": rng.integers(5_000, 90_000, judgments),
        "created_at": np.full(judgments, "2026-11-22T08:00:00"), "updated_at": np.full(judgments, "2026-11-22T08:00:00"),
        "revisions": np.zeros(judgments, np.int64), "app_version": np.full(judgments, "0.2"),
    }
    assert list(columns) == PAIRWISE_COLUMNS
    csv.write_csv(pa.table({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()}), path)


# A fresh parent per run, so that the children's peak memory is this run's alone.
_MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(time.perf_counter() - t, u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); "
            "sys.exit(r.returncode)")


def timed(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak resident memory (GiB) and CPU seconds of one child process."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    seconds, peak_kib, cpu = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(peak_kib) / 2**20, float(cpu)


def baseline_tree(workdir: Path, revision: str) -> Path:
    """The whole project as it was at `revision`, to run its own `medalign report` from."""
    tree = workdir / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


# Where the time goes, in one process: imports, reading, statistics, writing (wall and CPU seconds; CPU of this
# process's threads, not of the plots' child). As write_pairwise_report does, the plots' child and the copy of
# judgments.csv start after the read and each plot is offered to the child as soon as its numbers are final, so
# "write" is the wait for the child's last drawing plus the report files; unlike the command, the report's modules
# are imported before the read, not in a thread beside it.
STAGES_SCRIPT = """
import sys, time
clock = lambda: (time.perf_counter(), time.process_time())
marks = [clock()]
import medalign.cli  # what `medalign` imports before the report runs; the rest is charged to the stage that loads it
from evaluation.table import read_judgments
from evaluation.report import build_summary, start_judgments_csv, write_report
from evaluation.report_plots import PlotWorker
marks.append(clock())
table = read_judgments(sys.argv[1]); marks.append(clock())
plotter, copying = PlotWorker(), start_judgments_csv(table, sys.argv[2])
summary = build_summary(table, on_plot=lambda plot, entries: plotter.offer(plot, entries, sys.argv[2])); marks.append(clock())
write_report(summary, table, sys.argv[2], plotter=plotter, judgments_csv=copying); marks.append(clock())
plotter.close()
print(" ".join(f"{b[0] - a[0]:.2f}/{b[1] - a[1]:.2f}" for a, b in zip(marks, marks[1:])))
"""

REPORT_SCRIPT = "import sys; from medalign.cli import main; sys.argv[0] = 'medalign'; main()"  # what `medalign` runs


def plot(rows: list[dict], path: Path, baseline: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["judgments"] for r in rows]
    ax.plot(sizes, [r["current"]["median_s"] for r in rows], marker="o", label="medalign report (median)")
    if baseline:
        ax.plot(sizes, [r["baseline"]["median_s"] for r in rows], marker="x", color="tab:red",
                label=f"baseline {baseline} (median)")
    ax.plot([1e5, 1e6], [2, 10], linestyle="none", marker="_", markersize=20, color="grey", label="targets (2 s, 10 s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("judgments")
    ax.set_ylabel("seconds (2 cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sides(work: Path, revision: str | None) -> dict[str, tuple[dict, Path]]:
    """How to run `medalign report` now and, with --baseline, as of that revision (its own tree)."""
    # a realistic 1M-judgment export is just over 1 GiB, the default input limit (data/bounded.py)
    environment = {**os.environ, "MEDALIGN_MAX_INPUT_BYTES": str(4 << 30)}
    sides = {"current": ({**environment, "PYTHONPATH": str(ROOT)}, ROOT)}
    if revision:
        tree = baseline_tree(work, revision)
        sides["baseline"] = ({**environment, "PYTHONPATH": str(tree)}, tree)  # cwd: its own packages, not ours
    return sides


def measure(size: int, work: Path, sides: dict, repeats: int) -> dict:
    items, physicians = SIZES.get(size, (max(1, size // 50), max(2, size // 5000)))
    export = work / f"judgments_{size}.csv"
    synthetic_export(export, size, items, physicians)
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    for k in range(repeats):  # alternate the sides, and who goes first, so both see the same load
        for name in (list(sides) if k % 2 == 0 else list(reversed(sides))):
            env, cwd = sides[name]
            times[name].append(timed([sys.executable, "-c", REPORT_SCRIPT, "report", "--judgments", str(export), "--out",
                                      str(work / f"out_{name}_{size}_{k}")], env=env, cwd=cwd))
    row = {"judgments": size, "items": items, "physicians": physicians, "file_mb": export.stat().st_size / 2**20}
    for name, runs in times.items():
        row[name] = {"times": [t for t, _m, _c in runs], "median_s": statistics.median(t for t, _m, _c in runs),
                     "peak_gib": max(m for _t, m, _c in runs), "cpu": [c for _t, _m, c in runs],
                     "median_cpu_s": statistics.median(c for _t, _m, c in runs)}
    stages = subprocess.run([sys.executable, "-c", STAGES_SCRIPT, str(export), str(work / f"stages_{size}")],
                            capture_output=True, text=True, check=True, env=sides["current"][0]).stdout.split()
    row["stages"] = dict(zip(("imports", "read", "statistics", "write"), stages, strict=True))
    export.unlink()
    return row


def _cell(side: dict | None) -> str:
    if side is None:
        return "- | - | -"
    return (f"{side['median_s']:.2f} ({', '.join(f'{t:.2f}' for t in side['times'])}) | {side['median_cpu_s']:.2f} "
            f"({', '.join(f'{t:.2f}' for t in side['cpu'])}) | {side['peak_gib']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="also run `medalign report` as of this git revision, alternating")
    parser.add_argument("--results", type=Path)
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "report_scale.png")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sides = _sides(work, args.baseline)
        for size in args.sizes:
            rows.append(measure(size, work, sides, args.repeats))
            print(rows[-1], flush=True)
    plot(rows, args.plot, args.baseline)
    table = ["| judgments | items | physicians | file (MiB) | wall s, median (runs) | CPU s, median (runs) | peak memory "
             "(GiB) | baseline wall s | baseline CPU s | baseline peak (GiB) | speed-up wall, CPU | "
             "wall/CPU s now: imports, read, statistics, write |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = r.get("baseline")
        ratio = (f"{base['median_s'] / r['current']['median_s']:.1f}x, "
                 f"{base['median_cpu_s'] / r['current']['median_cpu_s']:.1f}x") if base else "-"
        table.append(f"| {r['judgments']:,} | {r['items']:,} | {r['physicians']} | {r['file_mb']:.0f} | "
                     f"{_cell(r['current'])} | {_cell(base)} | {ratio} | {', '.join(r['stages'].values())} |")
    load = os.getloadavg()
    text = "\n".join(table) + (f"\n\nLoad average at the end (other engineers' jobs share the 2 cores): "
                                f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min).")
    print(text)
    if args.results:
        command = "python bench/report_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with args.results.open("a") as handle:
            handle.write(f"\n## Report at scale (bench/report_scale.py)\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                         f"{os.cpu_count()}-core CPU; `{command}`. Wall time of `medalign report --judgments FILE.csv "
                         f"--out DIR` (reading, every statistic, every bootstrap at 1,000 resamples, plots, report "
                         f"files), three systems, median of the runs, baseline = revision {args.baseline or '-'} on the "
                         f"same files, alternating; targets: 100k < 2 s, 1M < 10 s and 2 GB. Plot: "
                         f"bench/{args.plot.name}.\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
