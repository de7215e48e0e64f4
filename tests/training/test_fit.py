"""Nothing dropped or cut in silence; `truncate: context` keeps the question (issue 24, point 4)."""

import json


def long_rows():
    context = " ".join(f"Finding {i}: the marker rose in group {i}." for i in range(60))
    template = "### Context:\n{context}\n\n### Question:\n{question}\n\n### Answer:\n"
    rows = []
    for i, ctx in enumerate((context, "Short context.")):
        question = f"Does marker {i} predict relapse?"
        rows.append({"id": f"item-{i}", "prompt": template.format(context=ctx, question=question),
                     "completion": "Yes, it does.", "context": ctx, "question": question})
    return rows


def test_default_drops_and_names_the_long_prompt(tiny_model, capsys):
    from transformers import AutoTokenizer

    from training.fit import announce, fit_rows

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows = long_rows()
    max_length = len(tokenizer(rows[1]["prompt"])["input_ids"]) + 40
    kept, report = fit_rows(rows, tokenizer, max_length)
    assert [r["id"] for r in kept] == ["item-1"] and report["dropped_ids"] == ["item-0"]
    announce("SFT", report, max_length)
    assert "dropped 1 of 2" in capsys.readouterr().err.replace("\n", " ") and "item-0"


def test_truncate_context_keeps_the_question_and_fits(tiny_model):
    from transformers import AutoTokenizer

    from training.fit import fit_rows

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows = long_rows()
    max_length = len(tokenizer(rows[1]["prompt"])["input_ids"]) + 40
    kept, report = fit_rows(rows, tokenizer, max_length, truncate="context")
    assert [r["id"] for r in kept] == ["item-0", "item-1"] and report["context_truncated_ids"] == ["item-0"]
    cut = kept[0]["prompt"]
    assert cut.startswith("### Context:\nFinding 0") and cut.endswith("### Question:\nDoes marker 0 predict relapse?\n\n### Answer:\n")
    assert "Finding 59" not in cut and kept[1]["prompt"] == rows[1]["prompt"]
    answer = len(tokenizer("Yes, it does.")["input_ids"]) + 1
    assert len(tokenizer(cut)["input_ids"]) + answer <= max_length
    # as long as possible: one more context word would not fit
    assert len(tokenizer(cut)["input_ids"]) + answer > max_length - 12


def test_sft_run_records_and_says_what_it_dropped(tiny_model, tiny_data, tmp_path, capsys):
    from transformers import AutoTokenizer

    from training.recipes import SFTRecipe
    from training.sft import sft_rows

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    lengths = sorted(len(tokenizer(json.loads(line)["prompt"])["input_ids"])
                     for line in (tiny_data / "train.jsonl").read_text().splitlines())
    rows, counts = sft_rows(tiny_data / "train.jsonl", tokenizer, lengths[25])
    err = capsys.readouterr().err.replace("\n", " ")
    assert counts["dropped_prompt_too_long"] > 0 and counts["dropped_ids"][0] in err
    assert counts["examples_used"] + counts["dropped_prompt_too_long"] == 50
    rows, cut = sft_rows(tiny_data / "train.jsonl", tokenizer, lengths[25], truncate="context")
    assert cut["dropped_prompt_too_long"] == 0 and cut["context_truncated"] >= counts["dropped_prompt_too_long"]
    assert len(rows) == 50
    assert SFTRecipe.model_fields["training"].annotation.model_fields["truncate"].default == "none"
