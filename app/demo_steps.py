"""The demo's pipeline steps: data, tiny model, SFT, pairs, DPO, generations, HQ, studies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.demo import Step

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


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
    def database(self) -> Path:
        return self.root / "medalign.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.database}"


def _training_steps(paths: DemoPaths, generation) -> list[Step]:
    from data import pubmedqa
    from data.prepare import build_examples, write_prepared
    from data.prompts import PUBMEDQA_TEMPLATE
    from training.pairs import make_pairs
    from training.recipes import load_recipe

    def prepare():
        records, source = pubmedqa.load_source(None)
        prepared = build_examples(records, n=66, holdout=16, seed=0, template=PUBMEDQA_TEMPLATE)
        write_prepared(prepared, paths.data, dataset="pubmedqa", source=source, seed=0, n=66, holdout=16,
                       template=PUBMEDQA_TEMPLATE)

    def tiny_model():
        from training.tiny_model import build_tiny_model

        build_tiny_model(paths.data, paths.model, load_recipe(CONFIGS / "tiny" / "model.yaml", stage="tiny-model"))

    def train_sft():
        from training.sft import run_sft

        run_sft(load_recipe(CONFIGS / "tiny" / "sft.yaml", [
            f"model_name_or_path={paths.model}", f"train_file={paths.data / 'train.jsonl'}", f"output_dir={paths.sft}"],
            stage="sft"))

    def train_dpo():
        from training.dpo import run_dpo

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


def pipeline_steps(paths: DemoPaths, simulate_raters: int) -> list[Step]:
    from app.demo_studies import READABLE_PAIRS, create_demo_studies
    from evaluation.helpfulness import hq_from_generations
    from evaluation.judgments import load_generations
    from training.generate import GenerationSettings, generate_file

    generation = GenerationSettings(batch_size=8, max_new_tokens=64)

    def generate_all():
        for system, path in (("base", paths.model), ("sft", paths.sft / "merged"), ("dpo", paths.dpo / "merged")):
            generate_file(str(path), paths.data / "holdout.jsonl", system, paths.generations, generation)

    def hq_step():
        results = [h.as_dict() for h in hq_from_generations(load_generations(paths.generations))]
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
    ]
