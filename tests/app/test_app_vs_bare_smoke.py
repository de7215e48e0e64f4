"""Smoke run of the load generator of bench/app_vs_bare.py (issue 26): two physicians, one round,
SQLite, both servers. It checks that the harness logs in, speaks Gradio's queue protocol over its
own HTTP client, gets every judgment answered and reports its CPU beside the servers'. No timing
is asserted (figures belong in bench/RESULTS.md). The script runs as a subprocess: tests never
import bench/."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_two_physicians_judge_on_both_servers(tmp_path):
    rows_file = tmp_path / "rows.jsonl"
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "app_vs_bare.py"), "--clients", "2", "--rounds", "1", "--databases",
         "sqlite", "--no-pin", "--rows", str(rows_file), "--plot", str(tmp_path / "plot.svg")],
        cwd=REPO, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert sorted(r["server"] for r in rows) == ["bare", "medalign"]
    for row in rows:
        assert row["error_count"] == 0, row["errors"]
        assert row["judgments"] == 2 * 3  # JUDGMENTS[2] each
        for field in ("p50_ms", "p99_ms", "per_s", "server_cpu_ms", "harness_cpu_ms", "harness_share", "load1"):
            assert math.isfinite(row[field]) and row[field] >= 0, (field, row)
        assert row["server_cpu_ms"] > 0  # the server's CPU was read from /proc, not left at zero
    assert "| sqlite | light | 2 |" in run.stdout  # the table printed for bench/RESULTS.md
