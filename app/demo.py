"""`medalign demo`: the whole loop on the embedded default, on a laptop with no GPU or network.

Each step shows progress, is skipped when its outputs exist and its inputs have not changed
(a stamp of input hashes and settings per step), and a failure names the step and what to do.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
READABLE_PAIRS = Path(__file__).resolve().parents[1] / "data" / "sample" / "readable_pairs.jsonl"
TINY_STUDY = "pubmedqa-tiny-model"
READABLE_STUDY = "readable-examples"
DEMO_USERS = (("demo-physician", "physician"), ("demo-researcher", "researcher"))


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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_server(engine, host: str, port: int):
    """The real app under uvicorn in a background thread; returns (server, url)."""
    import uvicorn

    from app.server import create_app

    # log_config=None: uvicorn would bind its log handlers to the sys.stderr of this moment.
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host=host, port=port, log_level="warning", log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise DemoError(f"the app did not start on {host}:{port}")
        time.sleep(0.05)
    return server, thread, f"http://{host}:{port}"


def run_demo(workdir: Path, *, simulate_raters: int = 0, serve: bool = True, host: str = "127.0.0.1", port: int = 7860) -> dict:
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")  # rich shows step progress; trainer bars would interleave
    from app import storage
    from app.db import open_database
    from app.study_files import read_pair_items
    from data import pubmedqa
    from data.prepare import build_examples, write_prepared
    from data.prompts import PUBMEDQA_TEMPLATE
    from evaluation.helpfulness import hq_from_generations
    from evaluation.judgments import load_generations
    from training.generate import GenerationSettings, generate_file
    from training.pairs import make_pairs
    from training.recipes import load_recipe

    console = Console(file=sys.stderr, soft_wrap=True)
    workdir = Path(workdir).resolve()
    stamps = workdir / ".stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    data, model, sft, pairs, dpo = (workdir / n for n in ("data", "model", "sft", "pairs", "dpo"))
    generations = workdir / "generations.jsonl"
    db_url = f"sqlite:///{workdir / 'medalign.db'}"
    generation = GenerationSettings(batch_size=8, max_new_tokens=64)

    def prepare():
        records, source = pubmedqa.load_source(None)
        prepared = build_examples(records, n=66, holdout=16, seed=0, template=PUBMEDQA_TEMPLATE)
        write_prepared(prepared, data, dataset="pubmedqa", source=source, seed=0, n=66, holdout=16, template=PUBMEDQA_TEMPLATE)

    def tiny_model():
        from training.tiny_model import build_tiny_model

        build_tiny_model(data, model, load_recipe(CONFIGS / "tiny" / "model.yaml", stage="tiny-model"))

    def train_sft():
        from training.sft import run_sft

        run_sft(load_recipe(CONFIGS / "tiny" / "sft.yaml", [f"model_name_or_path={model}", f"train_file={data / 'train.jsonl'}",
                                                             f"output_dir={sft}"], stage="sft"))

    def train_dpo():
        from training.dpo import run_dpo

        run_dpo(load_recipe(CONFIGS / "tiny" / "dpo.yaml", [f"model_name_or_path={sft / 'merged'}", f"pairs_dir={pairs}",
                                                             f"output_dir={dpo}"], stage="dpo"))

    def generate_all():
        for system, path in (("base", model), ("sft", sft / "merged"), ("dpo", dpo / "merged")):
            generate_file(str(path), data / "holdout.jsonl", system, generations, generation)

    def hq_step():
        results = [h.as_dict() for h in hq_from_generations(load_generations(generations))]
        (workdir / "hq.json").write_text(json.dumps(results, indent=2) + "\n")

    def studies():
        engine = open_database(db_url)
        with storage.transaction(engine) as session:
            for name, path, guidelines in (
                (TINY_STUDY, generations, "Answers written by a **tiny demonstration model** trained in seconds on synthetic "
                                          "data: they are not readable medicine. Judge which is closer to a useful answer."),
                (READABLE_STUDY, READABLE_PAIRS, "**Synthetic example answers written for this demo** (not model output), so "
                                                 "that the judging screen shows realistic text. Prefer the accurate, direct "
                                                 "answer; tick *evasive* when an answer takes no position."),
            ):
                if name not in {s.name for s in storage.list_studies(session)}:
                    storage.create_study(session, name=name, systems=("sft", "dpo"), items=read_pair_items(path, ("sft", "dpo")),
                                         # one slot more than the simulated raters take, for the demo physician
                                         overlap=simulate_raters + 1, seed=0, guidelines=guidelines,
                                         source_name=path.name)

    steps = [
        Step("prepare data", prepare, [data / "train.jsonl", data / "holdout.jsonl"], [pubmedqa.SAMPLE_PATH],
             hint="the bundled sample in data/sample/ is missing or edited; restore it with git checkout data/sample"),
        Step("tiny model", tiny_model, [model / "model.safetensors"], [data / "train.jsonl", CONFIGS / "tiny" / "model.yaml"],
             hint="check configs/tiny/model.yaml (validated: the error names the key)"),
        Step("SFT", train_sft, [sft / "merged" / "model.safetensors"], [model, CONFIGS / "tiny" / "sft.yaml"],
             hint="check configs/tiny/sft.yaml; free memory or disk if the log shows an out-of-memory error"),
        Step("DPO pairs", lambda: make_pairs(str(sft / "merged"), data / "train.jsonl", pairs, generation),
             [pairs / "pairs.jsonl"], [sft / "merged"], {"generation": generation.__dict__}),
        Step("DPO", train_dpo, [dpo / "merged" / "model.safetensors", dpo / "metrics.jsonl"], [pairs / "pairs.jsonl", sft / "merged",
                                                                                              CONFIGS / "tiny" / "dpo.yaml"]),
        Step("generate base/SFT/DPO", generate_all, [generations], [model, sft / "merged", dpo / "merged", data / "holdout.jsonl"],
             {"generation": generation.__dict__}),
        Step("helpfulness quotient", hq_step, [workdir / "hq.json"], [generations]),
        Step("studies", studies, [workdir / "medalign.db"], [generations, READABLE_PAIRS], {"overlap": simulate_raters},
             hint=f"the database {workdir / 'medalign.db'} may be from another version: delete it and run again"),
    ]
    total = len(steps) + 2
    for number, step in enumerate(steps, start=1):
        run_step(step, stamps, number, total, console)

    engine = open_database(db_url)
    logins = {}
    with storage.transaction(engine) as session:
        for name, role in DEMO_USERS:
            # New passwords on every demo run: they are printed once, below, and stored only hashed.
            password = secrets.token_urlsafe(9)
            if storage.get_user(session, name) is None:
                storage.add_user(session, name, role, password)
            else:
                storage.set_password(session, name, password)
            logins[name] = password

    server = thread = None
    url = f"http://{host}:{port}"
    try:
        if simulate_raters or serve:
            server, thread, url = start_server(engine, host, port if serve else free_port(host))
        with console.status(f"[{total - 1}/{total}] simulated raters ..."):
            submitted = simulate(engine, url, simulate_raters)
        if simulate_raters:
            console.print(f"[{total - 1}/{total}] simulated raters: {submitted} new judgments by {simulate_raters} "
                          "simulated physicians (marked simulated everywhere)")
        else:
            console.print(f"[{total - 1}/{total}] simulated raters: none asked for (--simulate-raters N)")
        report_dir = workdir / "report"
        with console.status(f"[{total}/{total}] report ..."):
            write_demo_report(engine, generations, dpo, report_dir)
        console.print(f"[{total}/{total}] report: {report_dir / 'report.html'}")
        summary = {"workdir": str(workdir), "database": db_url, "url": url if serve else None, "logins": logins,
                   "report": str(report_dir), "simulated_judgments": submitted}
        if serve:
            console.print(f"\n[bold]medalign app: {url}/[/bold]  (Ctrl+C to stop)")
            console.print("Demo logins (printed once; new ones on every demo run):")
            for name, password in logins.items():
                console.print(f"  {name:16s} {password}", highlight=False)
            console.print(f"Studies: {READABLE_STUDY} (readable synthetic answers), {TINY_STUDY} (tiny model answers)")
            thread.join()
        return summary
    finally:
        if server is not None:
            server.should_exit = True


def simulate(engine, url: str, raters: int) -> int:
    from app import storage
    from app.simulate import simulate_rater

    submitted = 0
    for i in range(1, raters + 1):
        name, password = f"sim-rater-{i}", secrets.token_urlsafe(12)
        with storage.transaction(engine) as session:
            if storage.get_user(session, name) is None:
                storage.add_user(session, name, "physician", password, simulated=True)
            else:
                storage.set_password(session, name, password)
        for study in (TINY_STUDY, READABLE_STUDY):
            submitted += simulate_rater(url, name, password, study, seed=i)
    return submitted


def write_demo_report(engine, generations: Path, dpo_dir: Path, out_dir: Path) -> None:
    from app import storage
    from evaluation.judgments import load_generations, normalise_row
    from evaluation.report import build_summary, read_run, write_report

    with storage.transaction(engine) as session:
        study = storage.get_study(session, TINY_STUDY)
        rows = [normalise_row(r) for r in storage.export_judgments(session, study)]
        settings = {"study": study.name, "systems": f"{study.system_1} vs {study.system_2}", "overlap": study.overlap,
                    "note": "demo: tiny model on synthetic data, simulated raters"}
    summary = build_summary(rows, target="dpo", generations=load_generations(generations), run=read_run(dpo_dir),
                            settings=settings, bootstrap_rounds=1000)
    write_report(summary, rows, out_dir)
