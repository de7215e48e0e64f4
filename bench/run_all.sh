#!/usr/bin/env bash
# Reproduce the figures in bench/RESULTS.md (appends; takes a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
$PY bench/loadtest.py --physicians 50 --judgments 20 --results bench/RESULTS.md
$PY bench/loadtest.py --physicians 50 --judgments 20 --crash --results bench/RESULTS.md
$PY bench/loadtest.py --physicians 50 --judgments 20 --postgres --results bench/RESULTS.md
$PY bench/loadtest.py --physicians 50 --judgments 20 --postgres --crash --results bench/RESULTS.md
# Slower, closer to real reading time (real physicians take tens of seconds per pair).
$PY bench/loadtest.py --physicians 50 --judgments 20 --pause 3 8 --results bench/RESULTS.md
$PY bench/security.py --results bench/RESULTS.md
# Evaluation evidence (issue 11): interval coverage (about 15 min), detector validation, report at scale.
$PY bench/coverage.py --studies 1000 --results bench/RESULTS.md
$PY bench/detector_validation.py --results bench/RESULTS.md
$PY bench/report_scale.py --results bench/RESULTS.md
# Generation speed, training overhead and compute (issue 15): the tiny model on the real PubMedQA
# (built once under runs/bench-tiny; each script skips when ../shared is absent).
$PY bench/generation.py --results bench/RESULTS.md
$PY bench/trl_overhead.py --rounds 3 --results bench/RESULTS.md
$PY bench/compute.py --results bench/RESULTS.md
# The app against a bare Gradio app of the same shape, 50 and 100 clients and the open-loop
# capacity, SQLite and PostgreSQL, the committed HEAD served (issue 26); about 15 minutes quiet.
$PY bench/app_vs_bare.py --revision HEAD --clients 50 100 --rounds 3 --capacity --results bench/RESULTS.md
