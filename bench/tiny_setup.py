"""The tiny model pipeline the training benches run on: the real PubMedQA (500-question holdout),
`medalign train tiny-model`, SFT with configs/tiny/sft.yaml and, when asked, DPO pairs. Each step
runs once per work folder (later runs reuse it); none of it is timed by the benches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"
DEFAULT_WORKDIR = ROOT / "runs" / "bench-tiny"


def pubmedqa_or_skip(script: str) -> Path:
    """The shared PubMedQA file, or exit 0 with a message where ../shared is absent."""
    if not PUBMEDQA.is_file():
        print(f"{script}: skipped: {PUBMEDQA} is absent (the real PubMedQA lives in ../shared/data)")
        sys.exit(0)
    return PUBMEDQA


def medalign(*args: str) -> None:
    command = [sys.executable, "-m", "medalign", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{result.stderr[-3000:]}")


def tiny_pipeline(workdir: Path = DEFAULT_WORKDIR, *, pairs: bool = False) -> dict[str, Path]:
    """Folders of the prepared data, the tiny model, the SFT run (merged model) and the pairs."""
    source = pubmedqa_or_skip("bench")
    workdir = Path(workdir)
    paths = {"data": workdir / "data", "model": workdir / "model", "sft": workdir / "sft", "pairs": workdir / "pairs"}
    if not (paths["data"] / "holdout.jsonl").is_file():
        medalign("data", "prepare", "pubmedqa", "--source", str(source), "--holdout", "500", "--out", str(paths["data"]))
    if not (paths["model"] / "config.json").is_file():
        medalign("train", "tiny-model", "--data", str(paths["data"]), "--out", str(paths["model"]))
    if not (paths["sft"] / "merged" / "config.json").is_file():
        medalign("train", "sft", "--config", "configs/tiny/sft.yaml", "--set", f"model_name_or_path={paths['model']}",
                 "--set", f"train_file={paths['data'] / 'train.jsonl'}", "--set", f"output_dir={paths['sft']}")
    if pairs and not (paths["pairs"] / "pairs.jsonl").is_file():
        medalign("train", "pairs", "--model", str(paths["sft"] / "merged"), "--data", str(paths["data"] / "train.jsonl"),
                 "--out", str(paths["pairs"]), "--max-new-tokens", "64")
    return paths
