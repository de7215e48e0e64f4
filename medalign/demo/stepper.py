"""The demo's step runner: each step shows progress, is skipped when its outputs exist and its
inputs have not changed (a stamp of input hashes and settings per step), and a failure names the
step and what to do."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console


class DemoError(RuntimeError):
    pass


@dataclass
class Step:
    name: str
    action: Callable[[], object]
    outputs: list[Path]
    inputs: list[Path] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    hint: str = ""


def _fingerprint(step: Step) -> str:
    digest = hashlib.sha256(json.dumps(step.settings, sort_keys=True, default=str).encode())
    for path in step.inputs:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.name).encode())
            digest.update(file.read_bytes() if file.exists() else b"<missing>")
    return digest.hexdigest()


def run_step(step: Step, stamps: Path, number: int, total: int, console: Console) -> None:
    stamp = stamps / (re.sub(r"[^a-z0-9]+", "-", step.name.lower()) + ".sha256")
    fingerprint = _fingerprint(step)
    label = f"[{number}/{total}] {step.name}"
    if all(p.exists() for p in step.outputs) and stamp.is_file() and stamp.read_text() == fingerprint:
        console.print(f"{label}: up to date, skipped")
        return
    started = time.time()
    log = stamps.parent / "logs" / (re.sub(r"[^a-z0-9]+", "-", step.name.lower()) + ".log")
    log.parent.mkdir(exist_ok=True)
    # Only stdout goes to the log (the trainers print every logging step there): libraries bind
    # logging handlers to whatever sys.stderr is at first use, so stderr is left alone.
    with console.status(f"{label} ..."), log.open("w") as handle, redirect_stdout(handle):
        try:
            step.action()
        except Exception as exc:
            raise DemoError(f"step '{step.name}' failed: {exc}\n  log: {log}\n  what to do: {step.hint or 'read the log'}; "
                            f"then run the demo again (finished steps are skipped)") from exc
    stamp.write_text(fingerprint)
    console.print(f"{label}: done in {time.time() - started:.1f} s (log: {log.relative_to(stamps.parent)})")
