"""What a judge costs per 1,000 pairwise units (tokens and seconds, from the judge's run record):
the tiny model through the local transformers backend and through the chat-completions server
(python -m training.judge.serve) on 127.0.0.1, each with an empty cache, then a cached re-run.

    .venv/bin/python bench/judge_cost.py --model runs/bench-tiny/model --data runs/bench-tiny/data/holdout.jsonl
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.judge.config import JudgeConfig  # noqa: E402
from training.judge.runner import run_judge  # noqa: E402


def units(path: Path, n: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][:n]
    return [{"unit_id": k, "item_id": r["id"], "question": r["question"], "context": r["context"],
             "system_1": "sft", "answer_1": r["answer"], "system_2": "dpo", "answer_2": r["answer"][: len(r["answer"]) // 2]}
            for k, r in enumerate(rows)]


def measure(config: JudgeConfig, work: list[dict]) -> dict:
    first = run_judge(work, "pairwise", config, progress=False).record
    again = run_judge(work, "pairwise", config, progress=False).record
    return {"backend": config.backend, "units": first["units"], "calls": first["calls"], "wall_s": first["wall_s"],
            "per_1000_units": first["per_1000_units"], "rerun_sent": again["sent"], "rerun_wall_s": again["wall_s"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--units", type=int, default=16)
    args = parser.parse_args(argv)
    work = units(args.data, args.units)
    with tempfile.TemporaryDirectory() as cache:
        local = JudgeConfig(name="cost", backend="transformers", model=args.model, decoding="choice",
                            cache_dir=f"{cache}/local")
        results = [measure(local, work)]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "training.judge.serve", "--model", args.model, "--name", "tiny",
                                   "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            served = JudgeConfig(name="cost", backend="openai", model="tiny", base_url=f"http://127.0.0.1:{port}/v1",
                                 decoding="choice", concurrency=4, cache_dir=f"{cache}/served")
            results.append(measure(served, work))
        finally:
            server.terminate()
            server.wait(timeout=30)
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
