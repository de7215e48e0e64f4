"""Peak memory and compute of DPO against SFT on the same model (issue 15).

`medalign train sft` and `medalign train dpo` run as users run them, on one model whose weights
dominate the process's memory (the tiny recipe's tokenizer with wider, deeper layers: about 55M
parameters, fp32, built by `medalign train tiny-model`), the same number of sequences per step
(SFT 4 examples; DPO 2 pairs = 4 sequences) and the same number of steps. Each stage's run.json
gives its own peak resident set (reset at stage start) and what the process held then (the
libraries); `medalign report compute` prints the stage-by-stage table and the DPO/SFT ratios.
Target: DPO's peak at most 1.1x SFT's (the reference is the adapter-disabled model, not a copy).
Skips when ../shared is absent.

    .venv/bin/python bench/compute.py --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tiny_setup import DEFAULT_WORKDIR, medalign, tiny_pipeline  # noqa: E402

WIDE = {"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 8, "pretrain_steps": 0}


def memory_model(paths: dict, workdir: Path) -> Path:
    out = Path(workdir) / "memory-model"
    if not (out / "config.json").is_file():
        medalign("train", "tiny-model", "--data", str(paths["data"]), "--out", str(out),
                 *[arg for key, value in WIDE.items() for arg in ("--set", f"{key}={value}")])
    return out


def stage(name: str, model: Path, paths: dict, out: Path, steps: int) -> dict:
    data = f"train_file={paths['data'] / 'train.jsonl'}" if name == "sft" else f"pairs_dir={paths['pairs']}"
    batch = 4 if name == "sft" else 2  # 4 sequences per step either way (a pair is two)
    sets = [f"model_name_or_path={model}", data, f"output_dir={out}", "merge=false", f"training.max_steps={steps}",
            f"training.per_device_train_batch_size={batch}", "training.logging_steps=1"]
    medalign("train", name, "--config", f"configs/tiny/{name}.yaml", *[a for s in sets for a in ("--set", s)])
    return json.loads((out / "run.json").read_text())


def report_compute(folders: list[Path]) -> tuple[dict, str]:
    command = [sys.executable, "-m", "medalign", "report", "compute", *map(str, folders)]
    summary = json.loads(subprocess.run([*command, "--json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    table = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return summary, table


def render(records: dict, summary: dict, table: str, args, load) -> str:
    peaks = {s: r["peak_memory"] for s, r in records.items()}
    own = {s: p["host_peak_rss_mib"] - p["host_rss_at_stage_start_mib"] for s, p in peaks.items()}
    ratio_total = peaks["dpo"]["host_peak_rss_mib"] / peaks["sft"]["host_peak_rss_mib"]
    ratio_own = own["dpo"] / own["sft"]
    verdict = "met" if ratio_total <= 1.1 else "missed"
    return "\n".join([
        f"## DPO against SFT: peak memory and compute (bench/compute.py, issue 15), {date(2026, 11, 22)}", "",
        f"Machine: 2-core CPU, 24 GiB (shared; load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}).",
        f"Command: `.venv/bin/python bench/compute.py --steps {args.steps} --results bench/RESULTS.md`",
        f"Model: {json.dumps(WIDE)} on the tiny tokenizer (~55M parameters, fp32); {args.steps} steps of 4 sequences "
        "each (SFT 4 examples, DPO 2 pairs), real PubMedQA train split and the SFT model's pairs; LoRA r=16.", "",
        "| stage | peak RSS MiB (stage) | RSS at stage start MiB | stage's own MiB |", "|---|---|---|---|",
        *[f"| {s} | {peaks[s]['host_peak_rss_mib']:,.0f} | {peaks[s]['host_rss_at_stage_start_mib']:,.0f} | {own[s]:,.0f} |"
          for s in ("sft", "dpo")],
        "",
        f"DPO / SFT peak: **{ratio_total:.3f}x** of the process peak, {ratio_own:.3f}x of the stage's own memory "
        f"(target <= 1.1x: {verdict}).", "",
        "`medalign report compute` on the two runs:", "", "```", table.rstrip(), "```", "",
        f"DPO / SFT per step here: wall {summary['dpo_over_sft'].get('wall_time_s')}x, FLOPs "
        f"{summary['dpo_over_sft'].get('flops')}x (TRL's estimate counts the policy's forward and backward, not the "
        f"reference forward), tokens {summary['dpo_over_sft'].get('tokens_processed')}x.", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args(argv)
    paths = tiny_pipeline(args.workdir, pairs=True)
    model = memory_model(paths, args.workdir)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folders = {name: Path(tmp) / name for name in ("sft", "dpo")}
        records = {name: stage(name, model, paths, folder, args.steps) for name, folder in folders.items()}
        summary, table = report_compute(list(folders.values()))
    text = render(records, summary, table, args, load)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
