"""Examples that do not fit max_length: never dropped or cut in silence.

TRL drops an example whose prompt alone reaches max_length and cuts the end of a longer one
without a word. Here each is decided before training and counted with its id (run.json and
the terminal). With `truncate: context`, the item's context is cut (token-exact, from its end)
so that the question, the answer and the template stay whole; an example whose text is too long
even with an empty context falls back to the default rule.
"""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)
IDS_SHOWN = 20


def _length(tokenizer, text: str) -> int:
    return len(tokenizer(text)["input_ids"])


def _cut_context(tokenizer, prompt: str, context: str, budget: int, wrap) -> str | None:
    """The prompt with the longest prefix of its context that keeps it within `budget` tokens; None if none does."""
    ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    low, high, best = 0, len(ids), None
    while low <= high:  # binary search on the number of context tokens kept
        middle = (low + high) // 2
        candidate = prompt.replace(context, tokenizer.decode(ids[:middle]).rstrip(), 1)
        if _length(tokenizer, wrap(candidate)) <= budget:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def fit_rows(rows: list[dict], tokenizer, max_length: int, *, truncate: str = "none",
             answers: tuple[str, ...] = ("completion",), wrap=lambda prompt: prompt) -> tuple[list[dict], dict]:
    """Rows (prompt + answer columns, optional id and context) that fit, and what happened to the rest.
    `wrap` gives the text the model sees for a prompt (its chat template, training/chat.py)."""
    kept, dropped, cut_answer, cut_context = [], [], [], []
    for number, row in enumerate(rows):
        row_id = str(row.get("id") or f"#{number + 1}")
        answer_tokens = max(_length(tokenizer, row[a]) for a in answers) + 1  # + EOS
        prompt = row["prompt"]
        fits = _length(tokenizer, wrap(prompt)) + answer_tokens <= max_length
        context = row.get("context") or ""
        if not fits and truncate == "context" and context and context in prompt:
            shorter = _cut_context(tokenizer, prompt, context, max_length - answer_tokens, wrap)
            if shorter is not None:
                prompt, fits = shorter, True
                cut_context.append(row_id)
        prompt_tokens = _length(tokenizer, wrap(prompt))
        if prompt_tokens >= max_length:
            dropped.append(row_id)
            continue
        if not fits:
            cut_answer.append(row_id)
        kept.append({**row, "prompt": prompt})
    report = {"rows_read": len(rows), "rows_used": len(kept), "dropped_prompt_too_long": len(dropped),
              "dropped_ids": dropped, "answer_truncated": len(cut_answer), "answer_truncated_ids": cut_answer,
              "context_truncated": len(cut_context), "context_truncated_ids": cut_context, "truncate": truncate}
    return kept, report


def announce(stage: str, report: dict, max_length: int) -> None:
    """Say on the terminal what was dropped or cut, with ids."""
    def ids(values: list[str]) -> str:
        return ", ".join(values[:IDS_SHOWN]) + (f", ... ({len(values) - IDS_SHOWN} more)" if len(values) > IDS_SHOWN else "")

    if report["dropped_prompt_too_long"]:
        console.print(f"[yellow]{stage}: dropped {report['dropped_prompt_too_long']} of {report['rows_read']} whose prompt "
                      f"reaches max_length={max_length} tokens[/yellow] (`--truncate context` cuts the context "
                      f"instead): {ids(report['dropped_ids'])}", highlight=False)
    if report["answer_truncated"]:
        console.print(f"[yellow]{stage}: {report['answer_truncated']} answers cut at max_length={max_length}[/yellow]: "
                      f"{ids(report['answer_truncated_ids'])}", highlight=False)
    if report["context_truncated"]:
        console.print(f"{stage}: context cut to fit max_length={max_length} in {report['context_truncated']}: "
                      f"{ids(report['context_truncated_ids'])}", highlight=False)
