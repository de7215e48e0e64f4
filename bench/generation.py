"""Generation speed on the real PubMedQA holdout with the tiny SFT model (issue 15).

1. Batched (length-sorted batches, the default batch size) against one prompt at a time, on the
   same prompts, alternating for --rounds rounds in one process; the greedy answers must be
   identical (asserted). Target: batched gives at least 5x the answers per second (median of the
   rounds' ratios).
2. The whole 500-question holdout through `medalign generate` in its own process, timed with
   start-up (imports, loading the model, writing the file); the run record gives the generation's
   own seconds and the torch thread count. Target: under 10 s with start-up on 2 cores.
   --threads N passes --threads to that run (default: torch's own count); --whole-runs N repeats it
   and reports the median run (a shared machine's wall times spread).

The model is built once per work folder (bench/tiny_setup.py). Skips when ../shared is absent.

    .venv/bin/python bench/generation.py --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from bench.tiny_setup import DEFAULT_WORKDIR, tiny_pipeline  # noqa: E402

MACHINE = "2-core CPU, 24 GiB (shared with other work; load average given)"


def timed_round(generate, prompts: list[str]) -> tuple[float, list[str], int]:
    started = time.perf_counter()
    answers, tokens = generate(prompts)
    return time.perf_counter() - started, answers, sum(tokens)


def one_at_a_time(engine):
    def run(prompts: list[str]):
        answers, tokens = [], []
        for prompt in prompts:
            texts, counts = engine.generate([prompt])
            answers += texts
            tokens += counts
        return answers, tokens

    return run


def compare(model_dir: Path, prompts: list[str], rounds: int, max_new_tokens: int) -> dict:
    from training.generate import GenerationSettings, generate_in_length_order, load_engine

    engine = load_engine(str(model_dir), GenerationSettings(max_new_tokens=max_new_tokens), prompts)
    batched = lambda ps: generate_in_length_order(engine, ps)  # noqa: E731
    single = one_at_a_time(engine)
    engine.generate(prompts[:2])  # warm-up: the first forward pass allocates and initialises
    times = {"batched": [], "single": []}
    for round_number in range(rounds):
        order = ("batched", "single") if round_number % 2 == 0 else ("single", "batched")
        outputs = {}
        for name in order:
            seconds, answers, tokens = timed_round(batched if name == "batched" else single, prompts)
            times[name].append(seconds)
            outputs[name] = answers
        differ = [i for i, (a, b) in enumerate(zip(outputs["batched"], outputs["single"], strict=True)) if a != b]
        assert not differ, f"batched and one-at-a-time answers differ at prompts {differ[:10]}"
    ratios = [s / b for s, b in zip(times["single"], times["batched"], strict=True)]
    return {"prompts": len(prompts), "batch_size": engine.batch_size, "tokens": tokens,
            "batched_s": statistics.median(times["batched"]), "single_s": statistics.median(times["single"]),
            "ratio_median": statistics.median(ratios), "ratios": ratios}


def whole_holdout(model_dir: Path, data_file: Path, max_new_tokens: int, threads: int | None = None) -> dict:
    """`medalign generate` on the whole holdout as its own process: the wall time includes
    start-up (imports, loading the model) and writing the file; the run record says how long the
    generation itself took and with how many threads."""
    from training.generate import generation_record_path

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "generations.jsonl"
        command = [sys.executable, "-m", "medalign", "generate", "--model", str(model_dir), "--data", str(data_file),
                   "--system", "sft", "--out", str(out), "--max-new-tokens", str(max_new_tokens)]
        command += ["--threads", str(threads)] if threads else []
        before = os.times()
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        total = time.perf_counter() - started
        after = os.times()
        record = json.loads(generation_record_path(out).read_text())["systems"]["sft"]["stats"]
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {**record, "total_with_startup_s": round(total, 2), "process_cpu_s": round(cpu, 2)}


def render(result: dict, whole: dict, args, load: tuple[float, ...]) -> str:
    c = result
    ok_ratio = "met" if c["ratio_median"] >= 5 else "missed"
    ok_time = "met" if whole["total_with_startup_s"] < 10 else "missed"
    workdir = f" --workdir {args.workdir}" if args.workdir != DEFAULT_WORKDIR else ""
    runs = whole["runs_s"]
    return "\n".join([
        f"## Generation speed (bench/generation.py), {date.today()}",
        "",
        f"Machine: {MACHINE}; load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.",
        f"Command: `.venv/bin/python bench/generation.py{workdir} --compare {args.compare} --rounds {args.rounds} "
        f"--max-new-tokens {args.max_new_tokens}{f' --threads {args.threads}' if args.threads else ''} "
        f"--whole-runs {args.whole_runs} "
        f"--results bench/RESULTS.md`; load average at the end {os.getloadavg()[0]:.2f}.",
        "Model: tiny Mistral (configs/tiny/model.yaml) after SFT (configs/tiny/sft.yaml) on the real PubMedQA "
        "train split; greedy, fp32.",
        "",
        "| run | prompts | batch | median s | answers/s | ratio (median of rounds) |",
        "|---|---|---|---|---|---|",
        f"| one at a time | {c['prompts']} | 1 | {c['single_s']:.2f} | {c['prompts'] / c['single_s']:.2f} | 1 |",
        f"| batched, length-sorted | {c['prompts']} | {c['batch_size']} | {c['batched_s']:.2f} | "
        f"{c['prompts'] / c['batched_s']:.2f} | **{c['ratio_median']:.1f}x** "
        f"(rounds: {', '.join(f'{r:.1f}' for r in c['ratios'])}) |",
        "",
        f"Same greedy answers batched and one at a time: asserted for all {c['prompts']} prompts in every round.",
        f"Target >= 5x answers/s: {ok_ratio}.",
        "",
        f"Whole holdout ({whole['generated']} questions, `medalign generate` as its own process, batch "
        f"{whole['batch_size']}, {whole.get('torch_threads', '?')} torch threads as recorded in the run record): "
        f"**{whole['total_with_startup_s']:.2f} s** with start-up (median of {len(runs)} runs: "
        f"{', '.join(f'{r:.2f}' for r in runs)} s; imports, loading the model, writing the file; "
        f"{whole['process_cpu_s']:.2f} s of CPU), of which {whole['generation_s']:.2f} s generating, "
        f"{whole['answers_per_s']} answers/s, {whole['tokens_per_s']} tokens/s ({whole['tokens_generated']} tokens). "
        f"Target < 10 s with start-up: {ok_time}.",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--compare", type=int, default=48, help="Prompts in the batched vs one-at-a-time rounds.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, help="--threads for the whole-holdout run (default: torch's own).")
    parser.add_argument("--whole-runs", type=int, default=1, help="Runs of the whole holdout (the median is reported).")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args(argv)
    paths = tiny_pipeline(args.workdir)
    from data.prepare import read_examples

    examples = read_examples(paths["data"] / "holdout.jsonl")
    step = max(1, len(examples) // args.compare)  # spread over the holdout: short and long prompts
    prompts = [e["prompt"] for e in examples[::step]][:args.compare]
    load = os.getloadavg()
    result = compare(paths["sft"] / "merged", prompts, args.rounds, args.max_new_tokens)
    wholes = sorted((whole_holdout(paths["sft"] / "merged", paths["data"] / "holdout.jsonl", args.max_new_tokens,
                                   args.threads) for _ in range(max(1, args.whole_runs))),
                    key=lambda w: w["total_with_startup_s"])
    whole = {**wholes[(len(wholes) - 1) // 2], "runs_s": [w["total_with_startup_s"] for w in wholes]}  # the median run
    text = render(result, whole, args, load)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
