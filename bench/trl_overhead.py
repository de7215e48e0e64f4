"""What `medalign train sft|dpo` costs over a minimal hand-written TRL script doing the same work (issue 15).

Both sides are whole processes (imports, loading, training, saving the adapter, merging it) on the
same data, recipe and seed; medalign also counts tokens, writes metrics.jsonl, plots and run.json.
Rounds alternate which side runs first; the overhead is the median over rounds of the per-round
ratio medalign / minimal. Each pair must end on the same final training loss (asserted), so the
two did the same work. Target: no more than 5% slower. Skips when ../shared is absent.

    .venv/bin/python bench/trl_overhead.py --rounds 3 --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tiny_setup import DEFAULT_WORKDIR, tiny_pipeline  # noqa: E402

# The minimal scripts: TRL's documented usage with the tiny recipes' settings (configs/tiny/*.yaml),
# dropping prompts that fill max_length as TRL would (medalign drops and counts them).
COMMON = """
import json, sys
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
model_dir, data, out, max_steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tokenizer = AutoTokenizer.from_pretrained(model_dir)
rows = [json.loads(line) for line in open(data) if line.strip()]
args = dict(output_dir=out + "/checkpoints", per_device_train_batch_size=4, max_length=512, seed=0, save_strategy="no",
            activation_checkpointing=False, bf16=False, use_cpu=True, report_to="none", max_steps=max_steps)
"""
SFT_SCRIPT = COMMON + """
from trl import SFTConfig, SFTTrainer
rows = [{"prompt": r["prompt"], "completion": r["answer"]} for r in rows if len(tokenizer(r["prompt"])["input_ids"]) < 512]
trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir),
                     args=SFTConfig(num_train_epochs=1, learning_rate=2e-3, logging_steps=5, completion_only_loss=True, **args),
                     train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                     peft_config=LoraConfig(r=16, lora_alpha=16, lora_dropout=0.1, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))
loss = trainer.train().training_loss
"""
DPO_SCRIPT = COMMON + """
from trl import DPOConfig, DPOTrainer
rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows if len(tokenizer(r["prompt"])["input_ids"]) < 512]
trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), ref_model=None,
                     args=DPOConfig(num_train_epochs=3, learning_rate=5e-3, logging_steps=2, beta=0.1,
                                    loss_type=["sigmoid"], **args),
                     train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                     peft_config=LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))
loss = trainer.train().training_loss
"""
SAVE = """
trainer.save_model(out + "/adapter")
from peft import AutoPeftModelForCausalLM
AutoPeftModelForCausalLM.from_pretrained(out + "/adapter").merge_and_unload().save_pretrained(out + "/merged")
tokenizer.save_pretrained(out + "/merged")
print(json.dumps({"train_loss": loss}))
"""


def run(command: list[str]) -> tuple[float, str]:
    env = dict(os.environ, TQDM_DISABLE="1")
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command[:6])}...\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def medalign_stage(stage: str, paths: dict, out: Path, max_steps: int) -> tuple[float, float]:
    sets = {"sft": [f"model_name_or_path={paths['model']}", f"train_file={paths['data'] / 'train.jsonl'}"],
            "dpo": [f"model_name_or_path={paths['sft'] / 'merged'}", f"pairs_dir={paths['pairs']}"]}[stage]
    sets += [f"output_dir={out}", f"training.max_steps={max_steps}"]
    command = [sys.executable, "-m", "medalign", "train", stage, "--config", f"configs/tiny/{stage}.yaml"]
    for item in sets:
        command += ["--set", item]
    seconds, _ = run(command)
    last = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()][-1]
    return seconds, last["train_loss"]


def minimal_stage(stage: str, paths: dict, out: Path, max_steps: int, script_dir: Path) -> tuple[float, float]:
    script = script_dir / f"minimal_{stage}.py"
    script.write_text((SFT_SCRIPT if stage == "sft" else DPO_SCRIPT) + SAVE)
    model, data = ((paths["model"], paths["data"] / "train.jsonl") if stage == "sft"
                   else (paths["sft"] / "merged", paths["pairs"] / "pairs.jsonl"))
    seconds, stdout = run([sys.executable, str(script), str(model), str(data), str(out), str(max_steps)])
    return seconds, json.loads(stdout.strip().splitlines()[-1])["train_loss"]


def measure(stage: str, paths: dict, rounds: int, max_steps: int, tmp: Path) -> dict:
    times = {"medalign": [], "minimal": []}
    losses = {}
    for round_number in range(rounds):
        order = ("medalign", "minimal") if round_number % 2 == 0 else ("minimal", "medalign")
        for side in order:
            out = tmp / f"{stage}-{side}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, loss = (medalign_stage(stage, paths, out, max_steps) if side == "medalign"
                             else minimal_stage(stage, paths, out, max_steps, tmp))
            times[side].append(seconds)
            losses[side] = loss
        assert abs(losses["medalign"] - losses["minimal"]) <= 1e-6 * max(1.0, abs(losses["minimal"])), losses
    ratios = [m / n for m, n in zip(times["medalign"], times["minimal"], strict=True)]
    return {"stage": stage, "medalign_s": statistics.median(times["medalign"]),
            "minimal_s": statistics.median(times["minimal"]), "ratio": statistics.median(ratios), "ratios": ratios,
            "loss": losses["medalign"]}


def render(results: list[dict], args, load: tuple[float, ...]) -> str:
    lines = [f"## medalign train vs a minimal TRL script (bench/trl_overhead.py, issue 15), {date(2026, 11, 22)}", "",
             f"Machine: 2-core CPU, 24 GiB (shared; load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}).",
             f"Command: `.venv/bin/python bench/trl_overhead.py --rounds {args.rounds} --max-steps {args.max_steps} "
             "--results bench/RESULTS.md`",
             "Whole processes on the tiny model, real PubMedQA train split, configs/tiny recipes, seed 0; "
             f"{args.max_steps} optimizer steps per stage; rounds alternate which side runs first.", "",
             "| stage | medalign median s | minimal TRL median s | medalign / minimal (median of rounds) | rounds | "
             "final loss (equal, asserted) |", "|---|---|---|---|---|---|"]
    for r in results:
        verdict = "met" if r["ratio"] <= 1.05 else "missed"
        lines.append(f"| {r['stage']} | {r['medalign_s']:.2f} | {r['minimal_s']:.2f} | **{r['ratio']:.3f}** ({verdict}) | "
                     f"{', '.join(f'{x:.3f}' for x in r['ratios'])} | {r['loss']:.6f} |")
    return "\n".join([*lines, "", "Target: medalign at most 5% slower (ratio <= 1.05).", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=40, help="Optimizer steps per stage (both sides).")
    parser.add_argument("--stages", default="sft,dpo")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args(argv)
    paths = tiny_pipeline(args.workdir, pairs=True)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(stage, paths, args.rounds, args.max_steps, Path(tmp)) for stage in args.stages.split(",")]
    text = render(results, args, load)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
