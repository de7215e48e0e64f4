"""Constrained answers for closed answer sets (training/choices.py, `eval run --constrained`): the
batched, left-padded log-likelihoods equal a one-sequence-at-a-time computation; every answer is an
allowed label so 100% parse on the triage data, while a free run of the same model still reports
its unparseable answers; the mode is in the run record and a resume across modes is refused."""

import json
import re

import pytest
import torch
from typer.testing import CliRunner

from data.tasks import load_task
from medalign.cli import app
from training.chat import chat_prompt
from training.choices import choice_loglikelihoods, choose, task_choices
from training.common import load_model, load_tokenizer
from training.generate import GenerationSettings, load_engine

runner = CliRunner()
PROMPTS = ["Triage the patient message by urgency. Answer with one of: emergent, urgent, non-urgent.\n\n"
           "### Message:\nCrushing chest pain for 20 minutes.\n\n### Urgency:\n",
           "Short prompt.\n", "Question: is it yes, no or maybe?\n"]


def reference_loglikelihood(model, tokenizer, prompt, choice):
    """One unpadded sequence, full logits, the choice's tokens as its own encoding after the prompt."""
    context = tokenizer(prompt)["input_ids"]
    whole = tokenizer(prompt + choice)["input_ids"]
    assert whole[:len(context)] == context  # the byte-level BPE does not merge across "\n"
    continuation = whole[len(context):]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([whole])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[len(context) - 1 + k, token]) for k, token in enumerate(continuation))


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_chat_model"])
def test_batched_scores_equal_one_sequence_at_a_time(request, fixture):
    folder = request.getfixturevalue(fixture)
    model, tokenizer = load_model(str(folder), precision="fp32").eval(), load_tokenizer(str(folder))
    prompts = [chat_prompt(tokenizer, p) for p in PROMPTS]
    choices = ["emergent", "urgent", "non-urgent", "maybe"]
    scores = choice_loglikelihoods(model, tokenizer, prompts, choices)
    for i, prompt in enumerate(prompts):
        for j, choice in enumerate(choices):
            assert scores[i, j] == pytest.approx(reference_loglikelihood(model, tokenizer, prompt, choice), abs=1e-4)
    assert choose(model, tokenizer, prompts, choices) == [choices[int(row.argmax())] for row in scores]


def test_task_choices_and_engines():
    assert task_choices(load_task("triage")) == ("emergent", "urgent", "non-urgent")
    assert task_choices(load_task("medqa").public_dict()) == ("A", "B", "C", "D")
    with pytest.raises(ValueError, match="free text"):
        task_choices(load_task("meqsum"))
    with pytest.raises(ValueError, match="transformers engine"):
        load_engine("unused", GenerationSettings(engine="vllm", choices=("a", "b")))


def ok(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_constrained_triage_answers_all_parse_and_free_ones_are_counted(tmp_path, tiny_model):
    ok("data", "prepare", "triage", "--holdout", "8", "--out", tmp_path / "data")
    holdout = tmp_path / "data" / "holdout.jsonl"
    common = ["eval", "run", "--task", "triage", "--model", tiny_model, "--system", "base", "--data", holdout,
              "--max-new-tokens", "8", "--rounds", "100"]
    ok(*common, "--out", tmp_path / "free.jsonl")
    ok(*common, "--out", tmp_path / "constrained.jsonl", "--constrained")
    free = [json.loads(x) for x in (tmp_path / "free.jsonl").read_text().splitlines()]
    constrained = [json.loads(x) for x in (tmp_path / "constrained.jsonl").read_text().splitlines()]
    labels = {"emergent", "urgent", "non-urgent"}
    assert len(constrained) == 8 and all(r["raw_output"] in labels and r["parsed"] == r["raw_output"] for r in constrained)
    metrics = json.loads((tmp_path / "constrained.metrics.json").read_text())
    assert metrics["unparsed"] == 0
    assert metrics["accuracy"]["value"] == pytest.approx(sum(r["parsed"] == r["gold"] for r in constrained) / 8)
    # free text: the unparseable answers are counted, by an independent whole-word search for any spelling
    spellings = [s for label in load_task("triage").labels for s in (label.name, *label.synonyms)]
    words = ["[^a-z0-9]+".join(map(re.escape, re.split(r"[^a-z0-9]+", s.lower()))) for s in spellings]
    pattern = re.compile(r"(?<![a-z0-9])(" + "|".join(words) + r")(?![a-z0-9])", re.IGNORECASE)
    unparseable = sum(not pattern.search(r["raw_output"]) for r in free)
    assert json.loads((tmp_path / "free.metrics.json").read_text())["unparsed"] == unparseable
    assert all(r["parsed"] is None for r in free if not pattern.search(r["raw_output"]))
    record = json.loads((tmp_path / "constrained.generations.run.json").read_text())["systems"]["base"]
    assert record["settings"]["choices"] == ["emergent", "urgent", "non-urgent"]
    assert record["stats"]["decoding"] == "choices" and record["stats"]["tokens_generated"] is None
    free_record = json.loads((tmp_path / "free.generations.run.json").read_text())["systems"]["base"]
    assert free_record["settings"]["choices"] == [] and free_record["stats"]["decoding"] == "free"
    # resuming free answers as constrained would reuse the free ones: refused, nothing changed
    for name in ("free.jsonl", "free.metrics.json"):
        (tmp_path / name).unlink()
    before = (tmp_path / "free.generations.jsonl").read_bytes()
    refused = runner.invoke(app, [str(a) for a in (*common, "--out", tmp_path / "free.jsonl", "--constrained")])
    assert refused.exit_code == 2 and "free text" in refused.output and "Traceback" not in refused.output
    assert (tmp_path / "free.generations.jsonl").read_bytes() == before and not (tmp_path / "free.jsonl").exists()


def test_constrained_option_task_answers_letters(tmp_path, tiny_chat_model):
    ok("data", "prepare", "medqa", "--holdout", "4", "--out", tmp_path / "data")
    ok("eval", "run", "--task", "medqa", "--model", tiny_chat_model, "--system", "base", "--data",
       tmp_path / "data" / "holdout.jsonl", "--out", tmp_path / "p.jsonl", "--constrained", "--rounds", "100")
    rows = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["parsed"] in "ABCD" and r["parsed"] == r["raw_output"] for r in rows)
    assert all("fields" in r and r["fields"]["step"] == "synthetic" for r in rows)


def test_byte_normalisation_divides_each_sum_by_its_answer_bytes():
    """lm-evaluation-harness acc_norm: a longer answer with a lower sum but a higher per-byte score wins."""
    import numpy as np

    from training.choices import normalized_scores

    choices = ["urgent", "non-urgent", "émergent"]  # 6, 10 and 9 bytes (é is two bytes in UTF-8)
    sums = np.array([[-3.0, -4.0, -9.0], [-6.0, -4.0, -3.0]])
    assert list(normalized_scores(sums, choices, "none")[0]) == [-3.0, -4.0, -9.0]
    assert normalized_scores(sums, choices, "bytes") == pytest.approx(np.array([[-0.5, -0.4, -1.0],
                                                                                 [-1.0, -0.4, -1 / 3]]))
    with pytest.raises(ValueError, match="none, bytes"):
        normalized_scores(sums, choices, "tokens")


def test_normalized_triage_answers_match_a_plain_forward_pass(tmp_path, tiny_model):
    """`--constrained --normalize bytes` on the triage holdout: each answer is the label of highest
    summed log-probability per byte, recomputed one unpadded sequence at a time; recorded, and a
    resume with the other normalisation is refused."""
    ok("data", "prepare", "triage", "--holdout", "8", "--out", tmp_path / "data")
    holdout = tmp_path / "data" / "holdout.jsonl"
    common = ["eval", "run", "--task", "triage", "--model", tiny_model, "--system", "base", "--data", holdout,
              "--rounds", "100", "--constrained"]
    ok(*common, "--out", tmp_path / "norm.jsonl", "--normalize", "bytes")
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "norm.jsonl").read_text().splitlines())}
    model, tokenizer = load_model(str(tiny_model), precision="fp32").eval(), load_tokenizer(str(tiny_model))
    labels = ["emergent", "urgent", "non-urgent"]
    changed = 0
    for example in map(json.loads, holdout.read_text().splitlines()):
        prompt = chat_prompt(tokenizer, example["prompt"])
        sums = [reference_loglikelihood(model, tokenizer, prompt, label) for label in labels]
        per_byte = [total / len(label.encode()) for total, label in zip(sums, labels, strict=True)]
        assert rows[example["id"]]["raw_output"] == labels[per_byte.index(max(per_byte))]
        changed += per_byte.index(max(per_byte)) != sums.index(max(sums))
    assert changed > 0  # the tiny model's summed choice differs here, so the check tells the two modes apart
    record = json.loads((tmp_path / "norm.generations.run.json").read_text())["systems"]["base"]
    assert record["settings"]["choice_normalization"] == "bytes" and record["stats"]["decoding"] == "choices"
    for name in ("norm.jsonl", "norm.metrics.json"):
        (tmp_path / name).unlink()
    before = (tmp_path / "norm.generations.jsonl").read_bytes()
    refused = runner.invoke(app, [str(a) for a in (*common, "--out", tmp_path / "norm.jsonl")])
    assert refused.exit_code == 2 and "--normalize bytes" in refused.output and "Traceback" not in refused.output
    assert (tmp_path / "norm.generations.jsonl").read_bytes() == before
    for bad, said in ((["--normalize", "tokens"], "none, bytes"), (["--normalize", "bytes"], "add --constrained")):
        args = [a for a in common if a != "--constrained"] if said == "add --constrained" else common
        result = runner.invoke(app, [str(a) for a in (*args, "--out", tmp_path / "other.jsonl", *bad)])
        assert result.exit_code == 2 and said in result.output and not (tmp_path / "other.jsonl").exists()
