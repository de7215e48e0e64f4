"""What each training stage cost, from its run record (run.json and metrics.jsonl).

Hours, tokens, FLOPs and the DPO/SFT ratios are evaluation.compare.compute_table's (the same table
`report compare` prints); `compute_summary` adds process CPU time and each stage's peak memory."""

from __future__ import annotations

import json
from pathlib import Path

from data.records import DataError
from data.tables import iter_jsonl
from evaluation.compare import compute_table


def read_run_record(folder: Path) -> dict:
    """A stage's run.json, plus the trainer's `total_flos` from the last metrics.jsonl row that has it."""
    path = folder / "run.json" if folder.is_dir() else folder
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read run record: {exc.strerror or exc}", file=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    metrics = path.parent / "metrics.jsonl"
    if "total_flos" not in record and metrics.is_file():
        flos = [row["total_flos"] for _, row in iter_jsonl(metrics) if "total_flos" in row]
        if flos:
            record["total_flos"] = flos[-1]
    return record


def stage_records(folders: list[Path]) -> dict[str, dict]:
    """{stage: run record}; a stage given twice is named by its folder too (the ratio needs one sft, one dpo)."""
    records: dict[str, dict] = {}
    for folder in folders:
        record = read_run_record(folder)
        stage = record.get("stage")
        if not isinstance(stage, str):
            raise DataError("no stage named in the run record", file=str(folder), field="stage")
        records[stage if stage not in records else f"{stage} ({folder})"] = record
    return records


def peak_memory_mib(record: dict) -> float | None:
    """The stage's peak: GPU memory allocated on CUDA, else the host's resident set."""
    memory = record.get("peak_memory") or {}
    return memory.get("cuda_peak_allocated_mib") or memory.get("host_peak_rss_mib")


def compute_summary(records: dict[str, dict]) -> dict:
    table = compute_table(records)
    for stage, row in table["stages"].items():
        row["cpu_time_s"] = records[stage].get("cpu_time_s")
        row["peak_memory_mib"] = peak_memory_mib(records[stage])
    if table["dpo_over_sft"]:
        for key in ("cpu_time_s", "peak_memory_mib"):  # the same ratio as compute_table's
            sft, dpo = table["stages"]["sft"][key], table["stages"]["dpo"][key]
            table["dpo_over_sft"][key] = round(dpo / sft, 3) if sft and dpo is not None else None
    return table
