"""What every training run records: run.json (config, versions, commit, input hashes, counts,
compute: wall time, process CPU time, tokens, the trainer's FLOPs (state.total_flos), peak memory
of this stage), metrics.jsonl at every logging step, and plots. CPU or GPU hours and the DPO/SFT
ratios are derived from these by evaluation.compare.compute_table (one definition)."""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import time
from importlib import metadata
from pathlib import Path

from data.tables import sha256_file

# What a stage writes into its output_dir (top-level names); the folder is claimed for them
# (data/safe_output.claim_folder) before any work, so a user's file of the same name is never replaced.
RUN_ENTRIES = {
    "sft": ["run.json", "metrics.jsonl", "sft_loss.png", "adapter", "merged", "checkpoints"],
    "dpo": ["run.json", "metrics.jsonl", "reward_margin.png", "adapter", "merged", "checkpoints"],
}
PACKAGES = ("medalign", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes", "tokenizers")


def claim_run_folder(output_dir: Path, stage: str, *, overwrite: bool = False, resume: bool = False,
                     record: bool = True) -> None:
    """Refuse an output_dir that is not empty and not an earlier run of this stage (unless
    --overwrite, or --resume of a run written before manifests existed); never a user's file at one
    of the stage's names. Every rank checks; with `record` (once the inputs are checked, so that a
    refused input leaves no folder behind) the main process creates the folder and records the claim."""
    from data.safe_output import claim_folder
    from training.distributed import is_main_process, wait_for_everyone

    if not record:
        claim_folder(Path(output_dir), RUN_ENTRIES[stage], overwrite=overwrite, resume=resume, record=False)
        return
    if is_main_process():  # the others checked above; mid-write, they could see the manifest's temporary file
        claim_folder(Path(output_dir), RUN_ENTRIES[stage], overwrite=overwrite, resume=resume)
    wait_for_everyone()


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


def reset_host_peak() -> bool:
    """Restart the kernel's peak resident set count (VmHWM) so that a stage's peak is its own, not the
    process's; False where /proc does not allow it (then the peak counts from process start)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def host_peak_rss_mib() -> float:
    """VmHWM (peak resident set since the last reset) where /proc has it, else ru_maxrss (since start)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def host_rss_mib() -> float | None:
    """The resident set now (VmRSS), None where /proc has no status."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def peak_memory(*, since_stage_start: bool = False, rss_at_start_mib: float | None = None) -> dict:
    import torch

    memory = {"host_peak_rss_mib": host_peak_rss_mib(),
              "host_peak_since": "stage start" if since_stage_start else "process start",
              # what the process held before the stage loaded anything (libraries): peak - this = the stage's own
              "host_rss_at_stage_start_mib": rss_at_start_mib}
    if torch.cuda.is_available():
        memory["cuda_peak_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return memory


class RunRecord:
    """Collects what run.json holds; `write()` at the end of a stage."""

    def __init__(self, stage: str, output_dir: Path, config: dict, inputs: dict[str, Path]) -> None:
        import torch

        self.stage = stage
        self.output_dir = Path(output_dir)  # created by claim_run_folder once the inputs are checked
        self.config = config
        self.inputs = {name: {"path": str(path), "sha256": sha256_file(Path(path))} for name, path in inputs.items()
                       if Path(path).is_file()}
        self.counts: dict = {}
        self.notes: list[str] = []
        self.chat_template: dict | None = None  # training/chat.py's template_record: used or not, and its sha256
        self.started = time.time()
        self.cpu_started = time.process_time()  # all threads of this process
        self.peak_reset = reset_host_peak()
        self.rss_at_start = host_rss_mib()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def write(self, *, tokens_processed: int | None = None, total_flos: float | None = None,
              extra: dict | None = None) -> dict:
        """run.json, written by the main process only; every rank gets the record back."""
        from training.distributed import distributed_summary, is_main_process

        record = {
            "stage": self.stage,
            "config": self.config,
            "inputs": self.inputs,
            "counts": self.counts,
            "notes": self.notes,
            "wall_time_s": round(time.time() - self.started, 2),
            "cpu_time_s": round(time.process_time() - self.cpu_started, 2),
            "tokens_processed": tokens_processed,
            "total_flos": total_flos,
            "peak_memory": peak_memory(since_stage_start=self.peak_reset, rss_at_start_mib=self.rss_at_start),
            "device": device_summary(),
            "processes": distributed_summary(),
            "versions": package_versions(),
            "git_commit": git_commit(),
            "chat_template": self.chat_template,
            **(extra or {}),
        }
        if is_main_process():
            from data.files import write_atomic

            self.output_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self.output_dir / "run.json", (json.dumps(record, indent=2, default=str) + "\n").encode())
        return record


def metrics_callback(path: Path):
    """A TrainerCallback appending each log (with step and epoch) to metrics.jsonl.

    Only the main process writes (`on_log` fires on every rank). On a resumed run the rows up
    to the checkpoint's step are kept and later ones dropped: they are logged again.
    """
    from transformers import TrainerCallback

    class MetricsToJsonl(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            kept = [row for row in read_metrics(path) if row["step"] <= state.global_step] if Path(path).is_file() else []
            Path(path).write_text("".join(json.dumps(row) + "\n" for row in kept))

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            row = {"step": state.global_step, "epoch": state.epoch, **logs}
            with Path(path).open("a") as handle:
                handle.write(json.dumps(row) + "\n")

    return MetricsToJsonl()


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_metrics(metrics: list[dict], panels: list[str | tuple[str, ...]], out_png: Path, title: str) -> Path | None:
    """One panel per entry, against step (bottom axis) and epoch (top axis).

    A tuple of keys shares a panel, e.g. ("loss", "eval_loss") puts training and eval loss together.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(p,) if isinstance(p, str) else tuple(p) for p in panels]
    present = [[k for k in keys if any(k in row for row in metrics)] for keys in panels]
    present = [keys for keys in present if keys]
    if not present:
        return None
    fig, axes = plt.subplots(len(present), 1, figsize=(7, 2.8 * len(present)), squeeze=False)
    for axis, keys in zip(axes[:, 0], present, strict=True):
        for key in keys:
            rows = [r for r in metrics if key in r]
            axis.plot([r["step"] for r in rows], [r[key] for r in rows], marker="o", markersize=3, label=key)
        axis.set_ylabel(keys[0])
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if len(keys) > 1:
            axis.legend(fontsize=8)
        _epoch_axis(axis, [r for r in metrics if keys[0] in r])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return Path(out_png)


def _epoch_axis(axis, rows: list[dict]) -> None:
    steps = [r["step"] for r in rows]
    epochs = [r.get("epoch") or 0 for r in rows]
    if len(steps) > 1 and steps[-1] > steps[0] and epochs[-1] > epochs[0]:
        scale = (epochs[-1] - epochs[0]) / (steps[-1] - steps[0])
        top = axis.secondary_xaxis(
            "top", functions=(lambda s, a=scale, s0=steps[0], e0=epochs[0]: e0 + (s - s0) * a,
                              lambda e, a=scale, s0=steps[0], e0=epochs[0]: s0 + (e - e0) / a)
        )
        top.set_xlabel("epoch")


def tokens_from_logs(metrics: list[dict]) -> int | None:
    """TRL logs the running token count as `num_tokens`."""
    counts = [r["num_tokens"] for r in metrics if "num_tokens" in r]
    return int(max(counts)) if counts else None


def flos_from_logs(metrics: list[dict]) -> float | None:
    """The trainer's state.total_flos, logged once at the end of training (the last value wins on resume)."""
    flos = [r["total_flos"] for r in metrics if "total_flos" in r]
    return float(flos[-1]) if flos else None


def finish_run(record: RunRecord, metrics_path: Path, plots: list[tuple[list, Path, str]], summarise=None) -> dict:
    """Plots and run.json, on the main process only; every rank gets the record back.

    plots: (panels, png path, title) for plot_metrics; summarise(metrics) adds keys to run.json.
    """
    from training.distributed import is_main_process

    main = is_main_process()
    metrics = read_metrics(metrics_path) if main and Path(metrics_path).is_file() else []
    if main:
        for panels, png, title in plots:
            plot_metrics(metrics, panels, png, title)
    return record.write(tokens_processed=tokens_from_logs(metrics), total_flos=flos_from_logs(metrics),
                        extra=summarise(metrics) if summarise else None)
