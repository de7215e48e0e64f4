"""`medalign report compute RUN...`: what each training stage cost, from its run.json.

Hours, tokens, FLOPs and the DPO/SFT ratios come from evaluation.compare.compute_table (the same
table `report compare` prints); this command adds process CPU time and each stage's peak memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.admin_cli import fail
from app.report_cli import report_app
from data.records import DataError

out = Console(width=150)  # the table has nine columns


def stage_records(folders: list[Path]) -> dict[str, dict]:
    """{stage: run record}; a stage given twice is named by its folder too (the ratio needs one sft, one dpo)."""
    from app.eval_cli import read_run_record

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
    from evaluation.compare import compute_table

    table = compute_table(records)
    for stage, row in table["stages"].items():
        row["cpu_time_s"] = records[stage].get("cpu_time_s")
        row["peak_memory_mib"] = peak_memory_mib(records[stage])
    if table["dpo_over_sft"]:
        for key in ("cpu_time_s", "peak_memory_mib"):  # the same ratio as compute_table's
            sft, dpo = table["stages"]["sft"][key], table["stages"]["dpo"][key]
            table["dpo_over_sft"][key] = round(dpo / sft, 3) if sft and dpo is not None else None
    return table


COLUMNS = (("wall_time_s", "wall s", "{:.1f}"), ("cpu_time_s", "CPU time s", "{:.1f}"),
           ("gpu_hours", "GPU h", "{:.4f}"), ("cpu_hours", "CPU h (wall)", "{:.4f}"),
           ("tokens_processed", "tokens", "{:,}"), ("flops", "FLOPs", "{:.3g}"),
           ("peak_memory_mib", "peak MiB", "{:,.0f}"))


def _cell(value, form: str) -> str:
    return "-" if value is None else form.format(value)


def compute_command(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (or run.json files) of training stages.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Stage-by-stage cost of training (wall time, CPU time, CPU or GPU hours, tokens, FLOPs, peak
    memory) and the DPO/SFT ratios."""
    try:
        summary = compute_summary(stage_records(runs))
    except DataError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        out.print_json(json.dumps(summary))
        return
    table = Table(title="Training compute per stage")
    for header in ("stage", "device", *(c[1] for c in COLUMNS)):
        table.add_column(header)
    for stage, row in summary["stages"].items():
        table.add_row(stage, row["device"] or "-", *(_cell(row.get(k), f) for k, _, f in COLUMNS))
    if summary["dpo_over_sft"]:
        ratios = summary["dpo_over_sft"]
        table.add_row("DPO / SFT", "", *(_cell(ratios.get(k), "{:.2f}x") for k, _, _ in COLUMNS))
    out.print(table)
    out.print(f"Notes: {summary['notes']}; peak MiB = GPU memory allocated on CUDA, else the host's resident set "
              "during the stage.", highlight=False)


report_app.command("compute")(compute_command)
