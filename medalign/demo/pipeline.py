"""The demo's pipeline steps: data, tiny model, SFT, pairs, DPO, generations, HQ, studies, and the
comparative study on one classification task (triage: base -> SFT -> DPO, its comparison table, answers
constrained to the task's labels)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from data import pubmedqa
from data.config_files import configs_dir
from data.generations import read_generations
from data.prepare import build_examples, write_prepared
from data.prompts import PUBMEDQA_TEMPLATE
from data.task_prepare import prepare_task
from data.tasks import load_task
from evaluation.compare import compare_systems
from evaluation.compare_render import write_comparison
from evaluation.compute import read_run_record
from evaluation.helpfulness import hq_from_generations
from evaluation.predictions import read_gold_examples, score_rows, write_predictions
from medalign.demo.stepper import Step
from medalign.demo.studies import READABLE_PAIRS, create_demo_studies
from training.choices import task_choices
from training.dpo import run_dpo
from training.generate import GenerationSettings, generate_file
from training.pairs import make_pairs
from training.recipes import load_recipe
from training.sft import run_sft
from training.tiny_model import build_tiny_model

CONFIGS = configs_dir()  # shipped with the package: the demo runs from any folder (issue 24)
TASK_STUDY = "triage"  # the bundled synthetic sample: 30 messages, 3 urgency labels
TASK_STUDY_RECIPES = CONFIGS / "study" / "tiny"


@dataclass(frozen=True)
class DemoPaths:
    """Where each demo artefact goes, under one work folder."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def sft(self) -> Path:
        return self.root / "sft"

    @property
    def pairs(self) -> Path:
        return self.root / "pairs"

    @property
    def dpo(self) -> Path:
        return self.root / "dpo"

    @property
    def reports(self) -> Path:
        return self.root / "report"

    @property
    def stamps(self) -> Path:
        return self.root / ".stamps"

    @property
    def generations(self) -> Path:
        return self.root / "generations.jsonl"

    @property
    def task_study(self) -> Path:
        """The comparative study of TASK_STUDY (data, sft, pairs, dpo, predictions, compare/)."""
        return self.root / TASK_STUDY

    @property
    def database(self) -> Path:
        return self.root / "medalign.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.database}"


def _training_steps(paths: DemoPaths, generation) -> list[Step]:
    def prepare():
        records, source = pubmedqa.load_source(None)
        prepared = build_examples(records, n=66, holdout=16, seed=0, template=PUBMEDQA_TEMPLATE)
        write_prepared(prepared, paths.data, dataset="pubmedqa", source=source, seed=0, n=66, holdout=16,
                       template=PUBMEDQA_TEMPLATE)

    def tiny_model():
        build_tiny_model(paths.data, paths.model, load_recipe(CONFIGS / "tiny" / "model.yaml", stage="tiny-model"))

    def train_sft():
        run_sft(load_recipe(CONFIGS / "tiny" / "sft.yaml", [
            f"model_name_or_path={paths.model}", f"train_file={paths.data / 'train.jsonl'}", f"output_dir={paths.sft}"],
            stage="sft"))

    def train_dpo():
        run_dpo(load_recipe(CONFIGS / "tiny" / "dpo.yaml", [
            f"model_name_or_path={paths.sft / 'merged'}", f"pairs_dir={paths.pairs}", f"output_dir={paths.dpo}"],
            stage="dpo"))

    merged_sft, merged_dpo = paths.sft / "merged", paths.dpo / "merged"
    return [
        Step("prepare data", prepare, [paths.data / "train.jsonl", paths.data / "holdout.jsonl"], [pubmedqa.SAMPLE_PATH],
             hint="the bundled sample in data/sample/ is missing or edited; restore it with git checkout data/sample"),
        Step("tiny model", tiny_model, [paths.model / "model.safetensors"],
             [paths.data / "train.jsonl", CONFIGS / "tiny" / "model.yaml"],
             hint="check configs/tiny/model.yaml (validated: the error names the key)"),
        Step("SFT", train_sft, [merged_sft / "model.safetensors"], [paths.model, CONFIGS / "tiny" / "sft.yaml"],
             hint="check configs/tiny/sft.yaml; free memory or disk if the log shows an out-of-memory error"),
        Step("DPO pairs", lambda: make_pairs(str(merged_sft), paths.data / "train.jsonl", paths.pairs, generation),
             [paths.pairs / "pairs.jsonl"], [merged_sft], {"generation": generation.__dict__}),
        Step("DPO", train_dpo, [merged_dpo / "model.safetensors", paths.dpo / "metrics.jsonl"],
             [paths.pairs / "pairs.jsonl", merged_sft, CONFIGS / "tiny" / "dpo.yaml"]),
    ]


def _forget_answers(root: Path) -> None:
    """A re-run step retrains its models: answers of the earlier models (kept for resuming) are stale."""
    for generations in (root / "generations.jsonl", root / "pairs" / "sft_generations.jsonl"):
        for path in (generations, generations.with_suffix(".run.json")):
            path.unlink(missing_ok=True)


def _train_task_study(paths: DemoPaths, task, generation) -> dict[str, Path]:
    """SFT and DPO of the demo's tiny model on the task (its template, targets and pairs); the models by system.
    The pairs' rejected answers are the SFT model's own (constrained) wrong labels."""
    root = paths.task_study
    _forget_answers(root)
    prepare_task(task.name, source=None, labels=None, n=5000, holdout=8, seed=0, out=root / "data")
    run_sft(load_recipe(TASK_STUDY_RECIPES / "sft.yaml", [
        f"model_name_or_path={paths.model}", f"train_file={root / 'data' / 'train.jsonl'}", f"output_dir={root / 'sft'}"],
        stage="sft"), task=task)
    make_pairs(str(root / "sft" / "merged"), root / "data" / "train.jsonl", root / "pairs", generation, task=task)
    run_dpo(load_recipe(TASK_STUDY_RECIPES / "dpo.yaml", [
        f"model_name_or_path={root / 'sft' / 'merged'}", f"pairs_dir={root / 'pairs'}", f"output_dir={root / 'dpo'}"],
        stage="dpo"), task=task)
    return {"base": paths.model, "sft": root / "sft" / "merged", "dpo": root / "dpo" / "merged"}


def run_task_study(paths: DemoPaths, generation, *, rounds: int = 2000) -> Path:
    """The comparative study on TASK_STUDY as `eval run` and `report compare` do it: each system's
    answers on the holdout, parsed and scored, then compare.md/html and summary.json."""
    task = load_task(TASK_STUDY)
    root = paths.task_study
    models = _train_task_study(paths, task, generation)
    holdout, generations = root / "data" / "holdout.jsonl", root / "generations.jsonl"
    examples = read_gold_examples(task, holdout)
    predictions = {}
    for system, model in models.items():
        generate_file(str(model), holdout, system, generations, generation, task=task)
        rows = score_rows(task, examples, {r["id"]: r for r in read_generations(generations)}, system,
                          file=str(generations))
        write_predictions(task, rows, root / f"{system}.jsonl", rounds=rounds)
        predictions[system] = rows
    runs = {stage: read_run_record(root / stage) for stage in ("sft", "dpo")}
    summary = compare_systems(task.public_dict(), predictions, runs=runs, rounds=rounds, seed=0)
    write_comparison(summary, root / "compare")
    return root / "compare"


def pipeline_steps(paths: DemoPaths, simulate_raters: int) -> list[Step]:
    generation = GenerationSettings(batch_size=8, max_new_tokens=64)
    # The tiny model rarely writes a label when free (8 of 8 unparseable): each answer is the task's label
    # of highest log-likelihood (training/choices.py, `eval run --constrained`), recorded in the run record.
    label_generation = GenerationSettings(batch_size=8, max_new_tokens=8, choices=task_choices(load_task(TASK_STUDY)))

    def generate_all():
        for system, path in (("base", paths.model), ("sft", paths.sft / "merged"), ("dpo", paths.dpo / "merged")):
            generate_file(str(path), paths.data / "holdout.jsonl", system, paths.generations, generation)

    def hq_step():
        results = [h.as_dict() for h in hq_from_generations(read_generations(paths.generations))]
        (paths.root / "hq.json").write_text(json.dumps(results, indent=2) + "\n")

    return [
        *_training_steps(paths, generation),
        Step("generate base/SFT/DPO", generate_all, [paths.generations],
             [paths.model, paths.sft / "merged", paths.dpo / "merged", paths.data / "holdout.jsonl"],
             {"generation": generation.__dict__}),
        Step("helpfulness quotient", hq_step, [paths.root / "hq.json"], [paths.generations]),
        Step("studies", lambda: create_demo_studies(paths, overlap=simulate_raters + 1), [paths.database],
             [paths.generations, READABLE_PAIRS], {"overlap": simulate_raters, "studies": 3},
             hint=f"the database {paths.database} may be from another version: delete it and run again"),
        Step(f"{TASK_STUDY} study base/SFT/DPO", lambda: run_task_study(paths, label_generation),
             [paths.task_study / "compare" / "compare.md", paths.task_study / "compare" / "summary.json"],
             [paths.model, CONFIGS / "tasks" / f"{TASK_STUDY}.yaml", TASK_STUDY_RECIPES],
             {"generation": label_generation.__dict__, "holdout": 8},
             hint=f"check configs/tasks/{TASK_STUDY}.yaml and configs/study/tiny/ (validated: the error names the key)"),
    ]
