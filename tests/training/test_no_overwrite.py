"""Every command that writes (issue 23): pointed at a folder holding a file of the user's, or at
the user's file itself, it refuses before any work and the file survives byte for byte; with
--overwrite (or --resume) it writes beside the user's file, never over it; into its own earlier
output (the folder's manifest) it replaces or resumes as documented. Real commands through the
CLI on the tiny model, a few steps each (export, report and train feedback: also the bad-input
corpus, tests/corpus/bad_inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medalign.cli import app

pytestmark = pytest.mark.slow

USER_FILE = b"years of work\n"
JUDGMENTS = "tests/corpus/bad_inputs/ok_judgments.csv"
FEW_STEPS = ["--set", "training.max_steps=2", "--set", "training.logging_steps=1", "--set", "training.save_steps=1"]


def _invoke(args: list[str]):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _victim(tmp_path: Path, name: str = "victim") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "thesis.tex").write_bytes(USER_FILE)
    return folder


@pytest.fixture(scope="module")
def built(tiny_model, tiny_data, tmp_path_factory):
    """The tiny model's SFT run, pairs and a task's prepared data, each made once by the commands."""
    root = tmp_path_factory.mktemp("no-overwrite")
    sft = root / "sft"
    ran = _invoke(["train", "sft", "--config", "configs/tiny/sft.yaml", "--set", f"model_name_or_path={tiny_model}",
                   "--set", f"train_file={tiny_data / 'train.jsonl'}", "--set", f"output_dir={sft}", *FEW_STEPS])
    assert ran.exit_code == 0, ran.output
    pairs = root / "pairs"
    ran = _invoke(["train", "pairs", "--model", sft / "merged", "--data", tiny_data / "holdout.jsonl", "--out", pairs,
                   "--max-new-tokens", "4"])
    assert ran.exit_code == 0, ran.output
    task_data = root / "decision"
    ran = _invoke(["data", "prepare", "pubmedqa-decision", "--out", task_data, "--n", "20", "--holdout", "4"])
    assert ran.exit_code == 0, ran.output
    predictions = root / "pred" / "sft.jsonl"
    ran = _invoke(["eval", "run", "--task", "pubmedqa-decision", "--model", sft / "merged", "--system", "sft",
                   "--data", task_data / "holdout.jsonl", "--out", predictions, "--max-new-tokens", "4", "--rounds", "20"])
    assert ran.exit_code == 0, ran.output
    return {"model": tiny_model, "data": tiny_data, "sft": sft, "pairs": pairs, "task_data": task_data,
            "predictions": predictions}


def _commands(b: dict, out: Path) -> dict[str, list]:
    """Every writing command, with its output (--out, output_dir) at `out`: a folder, or for the
    commands that write one file, a file in it."""
    sft_set = ["--set", f"model_name_or_path={b['model']}", "--set", f"train_file={b['data'] / 'train.jsonl'}"]
    dpo_set = ["--set", f"model_name_or_path={b['sft'] / 'merged'}"]
    decision = ["--task", "pubmedqa-decision", "--data", b["task_data"] / "holdout.jsonl"]
    return {
        "data prepare pubmedqa": ["data", "prepare", "pubmedqa", "--n", "20", "--holdout", "4", "--out", out],
        "data prepare meqsum": ["data", "prepare", "meqsum", "--n", "20", "--holdout", "4", "--out", out],
        "data prepare TASK": ["data", "prepare", "triage", "--n", "20", "--holdout", "4", "--out", out],
        "train tiny-model": ["train", "tiny-model", "--data", b["data"], "--out", out, "--set", "pretrain_steps=2"],
        "train sft": ["train", "sft", "--config", "configs/tiny/sft.yaml", *sft_set, "--set", f"output_dir={out}",
                      *FEW_STEPS],
        "train pairs": ["train", "pairs", "--model", b["sft"] / "merged", "--data", b["data"] / "holdout.jsonl",
                        "--out", out, "--max-new-tokens", "4"],
        "train dpo": ["train", "dpo", "--config", "configs/tiny/dpo.yaml", *dpo_set, "--pairs", b["pairs"],
                      "--set", f"output_dir={out}", *FEW_STEPS],
        "train feedback": ["train", "feedback", "--judgments", JUDGMENTS, "--out", out],
        "report": ["report", "--judgments", JUDGMENTS, "--out", out],
        "eval pairs": ["eval", "pairs", *decision, "--predictions", b["predictions"], "--out", out],
        "generate": ["generate", "--model", b["sft"] / "merged", "--data", b["data"] / "holdout.jsonl", "--system",
                     "sft", "--max-new-tokens", "4", "--limit", "3", "--out", out / "thesis.tex"],
        "eval run": ["eval", "run", *decision, "--model", b["sft"] / "merged", "--system", "sft", "--limit", "2",
                     "--max-new-tokens", "4", "--rounds", "20", "--out", out / "thesis.tex"],
        "eval score": ["eval", "score", *decision, "--generations", b["predictions"].with_name("sft.generations.jsonl"),
                       "--system", "sft", "--rounds", "20", "--out", out / "thesis.tex"],
    }


def _survives(folder: Path) -> None:
    assert (folder / "thesis.tex").read_bytes() == USER_FILE


def test_every_writing_command_refuses_a_users_folder_or_file(built, tmp_path):
    for label in _commands(built, tmp_path):
        folder = _victim(tmp_path / label.replace(" ", "_"))
        result = _invoke(_commands(built, folder)[label])
        assert result.exit_code != 0, (label, result.output)
        assert "Traceback" not in result.output and "thesis.tex" in result.output, (label, result.output)
        _survives(folder)
        assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"], label  # nothing written beside it


def test_with_overwrite_every_command_writes_beside_the_users_file(built, tmp_path):
    for label in _commands(built, tmp_path):
        folder = _victim(tmp_path / label.replace(" ", "_"))
        single = label in ("generate", "eval run", "eval score")
        # a command that writes one file gets a new name in the user's folder: no flag needed
        args = [folder / "out.jsonl" if a == folder / "thesis.tex" else a for a in _commands(built, folder)[label]]
        result = _invoke([*args, *([] if single else ["--overwrite"])])
        assert result.exit_code == 0, (label, result.output)
        _survives(folder)
        assert len(list(folder.iterdir())) > 2, label  # the output is there, beside the user's file


def test_a_users_file_at_a_training_output_name_is_refused_even_with_overwrite(built, tmp_path):
    folder = _victim(tmp_path)
    (folder / "run.json").write_text("the user's notes")
    args = _commands(built, folder)["train sft"]
    result = _invoke([*args, "--overwrite"])
    assert result.exit_code != 0 and "run.json" in result.output and "not written by medalign" in result.output
    assert (folder / "run.json").read_text() == "the user's notes"
    _survives(folder)


def test_training_into_its_own_folder_again_and_resuming_work(built, tmp_path):
    out = tmp_path / "sft"
    args = _commands(built, out)["train sft"]
    assert _invoke(args).exit_code == 0
    (out / "notes.txt").write_text("mine")  # a user's note in the run folder stays
    again = _invoke([*args, "--resume"])
    assert again.exit_code == 0, again.output
    assert any(n.startswith("resumed from") for n in json.loads((out / "run.json").read_text())["notes"])
    assert _invoke(args).exit_code == 0  # a fresh run into its own folder needs no flag
    assert (out / "notes.txt").read_text() == "mine"


def test_pairs_resume_from_their_own_generations(built, tmp_path):
    out = tmp_path / "pairs"
    args = _commands(built, out)["train pairs"]
    assert _invoke(args).exit_code == 0
    again = _invoke(args)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "pairs.json").read_text())["source"]["generation"]["generated"] == 0  # all reused


def test_generate_merges_into_its_own_file_and_asks_before_anyone_elses(built, tmp_path):
    out = tmp_path / "gen" / "answers.jsonl"
    args = _commands(built, out.parent)["generate"][:-1] + [out]
    assert _invoke(args).exit_code == 0
    second = [("dpo" if a == "sft" else a) for a in args]
    assert _invoke(second).exit_code == 0, "its own file: merged into without a flag (documented)"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all(set(r["outputs"]) == {"sft", "dpo"} for r in rows)

    theirs = tmp_path / "theirs.jsonl"
    theirs.write_text(out.read_text())  # a generations file medalign did not write (no manifest)
    before = theirs.read_bytes()
    args = args[:-1] + [theirs]
    refused = _invoke(args)
    assert refused.exit_code != 0 and "--resume" in refused.output and theirs.read_bytes() == before
    resumed = _invoke([*args, "--resume"])
    assert resumed.exit_code == 0 and "skipped 3 already done" in resumed.output
    replaced = _invoke([*[("base" if a == "sft" else a) for a in args], "--overwrite"])
    assert replaced.exit_code == 0
    assert all(set(json.loads(line)["outputs"]) == {"base"} for line in theirs.read_text().splitlines())
