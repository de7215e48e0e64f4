"""Checkpoints every `training.save_steps` and `--resume` from the last one.

A run writes `checkpoints/fingerprint.json` (its inputs and settings). `--resume` refuses to
continue from checkpoints of a different run (other data, model or hyperparameters); keys that
may change between the crash and the resume (how long to train, how often to log/save/eval)
are left out. A fresh (not resumed) run deletes checkpoints left by an earlier run, so that a
later `--resume` cannot pick up a stale one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from training.distributed import is_main_process, wait_for_everyone

MAY_CHANGE_ON_RESUME = {"max_steps", "num_train_epochs", "logging_steps", "save_steps", "save_total_limit", "eval_steps"}


class ResumeError(ValueError):
    """`--resume` cannot continue: no checkpoint, or checkpoints of a different run."""


def fingerprint(config: dict, inputs: dict) -> dict:
    training = {k: v for k, v in config.get("training", {}).items() if k not in MAY_CHANGE_ON_RESUME}
    kept = {k: v for k, v in config.items() if k not in ("training", "output_dir")}
    return {"config": {**kept, "training": training}, "inputs": {name: i["sha256"] for name, i in inputs.items()}}


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    found = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key} ({a!r} -> {b!r})")
    return found


def last_complete_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The highest checkpoint-N whose trainer_state.json (written last) is complete.

    A process killed while saving leaves a checkpoint folder without it; transformers'
    get_last_checkpoint would pick that folder and the resume would fail on a missing file.
    """
    complete = []
    for folder in Path(checkpoint_dir).glob("checkpoint-*"):
        step = folder.name.removeprefix("checkpoint-")
        try:
            json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if step.isdigit():
            complete.append((int(step), folder))
    return max(complete)[1] if complete else None


def prepare_checkpoints(checkpoint_dir: Path, config: dict, inputs: dict, *, resume: bool) -> str | None:
    """The checkpoint to resume from (or None for a fresh run); checks that it belongs to this run."""
    checkpoint_dir = Path(checkpoint_dir)
    marker = checkpoint_dir / "fingerprint.json"
    current = fingerprint(config, inputs)
    if resume:
        last = last_complete_checkpoint(checkpoint_dir)
        if last is None:
            raise ResumeError(f"{checkpoint_dir}: no complete checkpoint to resume from (checkpoints are written every "
                              "training.save_steps steps: that key is 0, or the run stopped before its first checkpoint)")
        if marker.is_file():
            changed = _differences(json.loads(marker.read_text()), current)
            if changed:
                raise ResumeError(f"{last}: written by a different run; changed: {', '.join(changed)}")
        return str(last)
    if is_main_process():
        for stale in checkpoint_dir.glob("checkpoint-*"):
            shutil.rmtree(stale, ignore_errors=True)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(current, indent=2, default=str) + "\n")
    wait_for_everyone()
    return None
