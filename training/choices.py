"""Constrained answers for tasks with a closed answer set (labels, option letters).

A small or untuned model asked to "answer with one of: emergent, urgent, non-urgent" often writes
something else, and its answer is unparseable. With `choices`, the model does not write: each
allowed answer is scored by its log-likelihood as the continuation of the prompt, and the answer is
the one the model finds most likely, as lm-evaluation-harness scores multiple-choice tasks
(`output_type: multiple_choice`, its `acc`: the sum of the continuation's token log-probabilities,
no length normalisation, no end-of-sequence token). Every answer is then one of the task's, so
every answer parses; what the model would have written freely is not measured (run without
`--constrained` for that). The run record says which mode and which answers were allowed.

A sum of log-probabilities favours short answers (each token costs probability): with
normalisation `bytes` each answer's sum is divided by its length in UTF-8 bytes before the
argmax, lm-evaluation-harness's `acc_norm` (its code divides by `len(choice)`, characters; the
same for ASCII labels and option letters). Option letters are all one byte long, so it changes
nothing there; it matters for labels of different lengths.

Tokens: the prompt's tokens as generation sees them, then the continuation's tokens taken from the
tokenized prompt + answer (lm-evaluation-harness's split), so that a merge at the boundary is
scored as the model would read it. Sequences are left-padded with position ids from the attention
mask, and only the logits of the last positions are computed where the model allows it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

#: What the run record calls this decoding mode.
MODE = "choice log-likelihood (lm-evaluation-harness multiple choice, sum of token log-probabilities)"
#: How the summed log-likelihoods are compared: as they are (lm-eval `acc`), or per UTF-8 byte of
#: the answer (lm-eval `acc_norm`).
NORMALIZATIONS = ("none", "bytes")


def task_choices(task) -> tuple[str, ...]:
    """The answers a label or option task allows: label names, or option letters."""
    output = task["output"] if isinstance(task, Mapping) else task.output
    if output == "label":
        labels = task["labels"] if isinstance(task, Mapping) else [label.model_dump() for label in task.labels]
        return tuple(label["name"] for label in labels)
    if output == "option":
        return tuple(task["options"] if isinstance(task, Mapping) else task.options)
    name = task["name"] if isinstance(task, Mapping) else task.name
    raise ValueError(f"task {name!r} answers in free text: constrained answers need a label or option task")


def continuation_ids(tokenizer, prompt: str, choice: str) -> tuple[list[int], list[int]]:
    """(prompt tokens, the choice's tokens after them)."""
    context = tokenizer(prompt)["input_ids"]
    whole = tokenizer(prompt + choice)["input_ids"]
    if whole[:len(context)] == context and len(whole) > len(context):
        return context, whole[len(context):]
    # the boundary merged differently: the choice's own tokens after the prompt's
    return context, tokenizer(choice, add_special_tokens=False)["input_ids"]


def _forward_kwargs(model, keep: int) -> dict:
    parameters = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in parameters:
            return {name: keep}
    return {}


def choice_loglikelihoods(model, tokenizer, prompts: Sequence[str], choices: Sequence[str]):
    """(len(prompts), len(choices)) array of each choice's summed log-probability after each prompt."""
    import torch

    if not choices:
        raise ValueError("no choices to score")
    sequences, lengths = [], []
    for prompt in prompts:
        for choice in choices:
            context, continuation = continuation_ids(tokenizer, prompt, choice)
            if not continuation:
                raise ValueError(f"the answer {choice!r} has no tokens")
            sequences.append(context + continuation)
            lengths.append(len(continuation))
    width, longest = max(map(len, sequences)), max(lengths)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences], device=model.device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences], device=model.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                       **_forward_kwargs(model, longest + 1)).logits
    logits = logits[:, -(longest + 1):-1].float()  # the positions that predict the last `longest` tokens
    logprobs = torch.log_softmax(logits, dim=-1)
    targets = ids[:, -longest:]
    token_scores = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    keep = torch.arange(longest, device=model.device)[None] >= (longest - torch.tensor(lengths, device=model.device))[:, None]
    totals = (token_scores * keep).sum(-1)
    return totals.reshape(len(prompts), len(choices)).cpu().numpy()


def check_normalization(normalize: str) -> str:
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"choice normalisation must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}")
    return normalize


def normalized_scores(scores, choices: Sequence[str], normalize: str = "none"):
    """The scores the answer is chosen by: the summed log-likelihoods, or each divided by its choice's
    length in UTF-8 bytes (`bytes`)."""
    import numpy as np

    if check_normalization(normalize) == "none":
        return scores
    lengths = np.array([len(choice.encode("utf-8")) for choice in choices], dtype=np.float64)
    if not lengths.all():
        raise ValueError("an empty answer has no length to normalise by")
    return np.asarray(scores, dtype=np.float64) / lengths


def choose(model, tokenizer, prompts: Sequence[str], choices: Sequence[str], normalize: str = "none") -> list[str]:
    """The most likely allowed answer after each prompt (the first of equals on a tie); `normalize`:
    one of NORMALIZATIONS."""
    check_normalization(normalize)
    scores = normalized_scores(choice_loglikelihoods(model, tokenizer, prompts, choices), choices, normalize)
    return [choices[int(row.argmax())] for row in scores]


def check_resumed_mode(generations, system: str, choices: Sequence[str], normalize: str = "none") -> None:
    """Refuse to resume a generations file whose answers of `system` were made in another mode (free
    text vs constrained, or another normalisation): the reused answers would not be what the run
    record says."""
    import json
    from pathlib import Path

    from data.records import DataError

    record_path = Path(generations).with_suffix(".run.json")
    if not record_path.is_file():
        return
    try:
        earlier = json.loads(record_path.read_text(encoding="utf-8"))["systems"][system]["settings"]
    except (KeyError, TypeError, ValueError):
        return  # no earlier answers of this system recorded
    if list(earlier.get("choices") or ()) != list(choices):
        before = "constrained" if earlier.get("choices") else "free text"
        raise DataError(f"the answers of {system!r} here were made as {before}; this run asks for "
                        f"{'constrained' if choices else 'free text'} answers: use another --out or delete the file",
                        file=str(generations), field="choices")
    # records from before normalisation existed were summed log-likelihoods
    before = earlier.get("choice_normalization") or "none"
    if choices and before != normalize:
        raise DataError(f"the answers of {system!r} here were chosen with --normalize {before}; this run asks for "
                        f"--normalize {normalize}: use another --out or delete the file",
                        file=str(generations), field="choice_normalization")
