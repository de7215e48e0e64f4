"""What every training run records: run.json (config, versions, commit, input hashes, counts,
wall time, tokens, peak memory), metrics.jsonl at every logging step, and plots."""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import time
from importlib import metadata
from pathlib import Path

from data.tables import sha256_file

PACKAGES = ("medalign", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes", "tokenizers")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def device_summary() -> dict:
    import torch

    if torch.cuda.is_available():
        return {"device": "cuda", "name": torch.cuda.get_device_name(0), "count": torch.cuda.device_count()}
    return {"device": "cpu", "name": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}


def peak_memory() -> dict:
    import torch

    memory = {"host_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if torch.cuda.is_available():
        memory["cuda_peak_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return memory


class RunRecord:
    """Collects what run.json holds; `write()` at the end of a stage."""

    def __init__(self, stage: str, output_dir: Path, config: dict, inputs: dict[str, Path]) -> None:
        import torch

        self.stage = stage
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.inputs = {name: {"path": str(path), "sha256": sha256_file(Path(path))} for name, path in inputs.items()
                       if Path(path).is_file()}
        self.counts: dict = {}
        self.notes: list[str] = []
        self.started = time.time()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def write(self, *, tokens_processed: int | None = None, extra: dict | None = None) -> dict:
        record = {
            "stage": self.stage,
            "config": self.config,
            "inputs": self.inputs,
            "counts": self.counts,
            "notes": self.notes,
            "wall_time_s": round(time.time() - self.started, 2),
            "tokens_processed": tokens_processed,
            "peak_memory": peak_memory(),
            "device": device_summary(),
            "versions": package_versions(),
            "git_commit": git_commit(),
            **(extra or {}),
        }
        (self.output_dir / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        return record


def metrics_callback(path: Path):
    """A TrainerCallback appending each log (with step and epoch) to metrics.jsonl."""
    from transformers import TrainerCallback

    class MetricsToJsonl(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            Path(path).write_text("")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs:
                return
            row = {"step": state.global_step, "epoch": state.epoch, **logs}
            with Path(path).open("a") as handle:
                handle.write(json.dumps(row) + "\n")

    return MetricsToJsonl()


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_metrics(metrics: list[dict], keys: list[str], out_png: Path, title: str) -> Path | None:
    """One panel per key, against step (bottom axis) and epoch (top axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [k for k in keys if any(k in row for row in metrics)]
    if not present:
        return None
    fig, axes = plt.subplots(len(present), 1, figsize=(7, 2.8 * len(present)), squeeze=False)
    for axis, key in zip(axes[:, 0], present, strict=True):
        rows = [r for r in metrics if key in r]
        steps = [r["step"] for r in rows]
        axis.plot(steps, [r[key] for r in rows], marker="o", markersize=3)
        axis.set_ylabel(key)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        epochs = [r.get("epoch") or 0 for r in rows]
        if len(steps) > 1 and steps[-1] > steps[0] and epochs[-1] > epochs[0]:
            scale = (epochs[-1] - epochs[0]) / (steps[-1] - steps[0])
            top = axis.secondary_xaxis(
                "top", functions=(lambda s, a=scale, s0=steps[0], e0=epochs[0]: e0 + (s - s0) * a,
                                  lambda e, a=scale, s0=steps[0], e0=epochs[0]: s0 + (e - e0) / a)
            )
            top.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return Path(out_png)


def tokens_from_logs(metrics: list[dict]) -> int | None:
    """TRL logs the running token count as `num_tokens`."""
    counts = [r["num_tokens"] for r in metrics if "num_tokens" in r]
    return int(max(counts)) if counts else None
