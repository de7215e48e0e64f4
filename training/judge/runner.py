"""Run a model judge over a study's units and turn its replies into verdicts.

Pairwise units are asked in both orders (answer 1 first, then answer 2 first); the verdict is the
system both orders prefer, and a tie when they disagree (counted as order-inconsistent). A reply
that is off-format in either order makes the unit "unparsed" (counted, never stored as a
judgment). Rating units are asked one rubric criterion at a time.

Every reply is cached as it arrives (training/judge/cache.py): a run stopped by a dead endpoint or
a kill keeps what it got, and the same command continues from there. The run record counts calls,
cache hits, tokens, seconds, unparsed and order-inconsistent verdicts: what a judge costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from training.judge import prompts
from training.judge.backends import JudgeError, Reply, Request, RequestFailed, make_backend
from training.judge.cache import ReplyCache, cache_key
from training.judge.config import JudgeConfig


@dataclass
class JudgeRun:
    verdicts: list[dict]
    record: dict = field(default_factory=dict)


def _pairwise_requests(unit: dict, tmpl: prompts.Template, choices) -> list[Request]:
    base = {"question": unit["question"], "context": unit.get("context", "")}
    forward = prompts.pairwise_prompt(tmpl, answer_1=unit["answer_1"], answer_2=unit["answer_2"], **base)
    backward = prompts.pairwise_prompt(tmpl, answer_1=unit["answer_2"], answer_2=unit["answer_1"], **base)
    return [Request(forward, choices), Request(backward, choices)]


def _rating_requests(unit: dict, tmpl: prompts.Template, rubric: dict, constrained: bool) -> list[Request]:
    return [Request(prompts.rating_prompt(tmpl, question=unit["question"], context=unit.get("context", ""),
                                          answer=unit["answer"], criterion=c),
                    prompts.criterion_choices(c) if constrained else None) for c in rubric["criteria"]]


def build_requests(units: list[dict], kind: str, config: JudgeConfig, rubric: dict | None) -> list[list[Request]]:
    """The requests of each unit, in order."""
    tmpl = prompts.template(kind, config.template_version)
    constrained = config.decoding == "choice"
    if kind == "pairwise":
        choices = list(prompts.PAIRWISE_CHOICES) if constrained else None
        return [_pairwise_requests(u, tmpl, choices) for u in units]
    if rubric is None:
        raise JudgeError("a rating study's judge needs the study's rubric")
    return [_rating_requests(u, tmpl, rubric, constrained) for u in units]


def _pairwise_verdict(unit: dict, replies: list) -> dict:
    forward, backward = (prompts.parse_pairwise(r.text) if isinstance(r, Reply) else None for r in replies)
    out = {"replies": [r.text if isinstance(r, Reply) else f"(failed: {r.reason})" for r in replies]}
    if forward is None or backward is None:
        failed = any(isinstance(r, RequestFailed) for r in replies)
        return {**out, "status": "error" if failed else "unparsed", "preferred_system": None, "order_consistent": None}
    system_1, system_2 = unit["system_1"], unit["system_2"]
    first = {"1": system_1, "2": system_2, "tie": ""}[forward]
    second = {"1": system_2, "2": system_1, "tie": ""}[backward]  # answers swapped in the second order
    consistent = first == second
    return {**out, "status": "ok", "preferred_system": first if consistent else "", "order_consistent": consistent}


def _rating_verdict(unit: dict, replies: list, rubric: dict) -> dict:
    ratings, unparsed = {}, []
    for criterion, reply in zip(rubric["criteria"], replies, strict=True):
        value = prompts.parse_rating(reply.text, criterion) if isinstance(reply, Reply) else None
        if value is None:
            unparsed.append(criterion["id"])
        else:
            ratings[criterion["id"]] = value
    missing_required = [c["id"] for c in rubric["criteria"] if c.get("required", True) and c["id"] in unparsed]
    failed = any(isinstance(r, RequestFailed) for r in replies)
    status = "ok" if not missing_required else ("error" if failed else "unparsed")
    return {"status": status, "ratings": ratings, "unparsed_criteria": unparsed,
            "replies": [r.text if isinstance(r, Reply) else f"(failed: {r.reason})" for r in replies]}


def run_judge(units: list[dict], kind: str, config: JudgeConfig, *, rubric: dict | None = None, backend=None,
              cache_dir: Path | None = None, progress: bool = True) -> JudgeRun:
    """Verdicts for every unit (see the module docstring); raises JudgeError when the judge cannot go
    on, after caching every reply it got."""
    per_unit = build_requests(units, kind, config, rubric)
    flat = [r for requests in per_unit for r in requests]
    settings = config.settings()
    cache = ReplyCache(Path(cache_dir or config.cache_dir))
    keys = [cache_key(settings, r.prompt, r.choices) for r in flat]
    replies: list[Reply | RequestFailed | None] = [None] * len(flat)
    for i, key in enumerate(keys):
        hit = cache.get(key)
        if hit is not None:
            replies[i] = Reply(hit["reply"], hit["prompt_tokens"], hit["completion_tokens"], 0.0)
    todo = [i for i, r in enumerate(replies) if r is None]
    began, sent_tokens = time.perf_counter(), [0, 0]
    sent_seconds = 0.0
    if todo:
        backend = backend or make_backend(config)
        with tqdm(total=len(flat), initial=len(flat) - len(todo), desc=f"judge {config.name}", unit="call",
                  disable=not progress) as bar:
            for local, result in backend.complete([flat[i] for i in todo]):
                index = todo[local]
                replies[index] = result
                if isinstance(result, Reply):
                    cache.put(keys[index], result.text, result.prompt_tokens, result.completion_tokens, result.seconds)
                    sent_tokens[0] += result.prompt_tokens
                    sent_tokens[1] += result.completion_tokens
                    sent_seconds += result.seconds
                bar.update(1)
    wall = time.perf_counter() - began
    verdicts, cursor = [], 0
    tmpl = prompts.template(kind, config.template_version)
    for unit, requests in zip(units, per_unit, strict=True):
        got = replies[cursor:cursor + len(requests)]
        cursor += len(requests)
        verdict = _pairwise_verdict(unit, got) if kind == "pairwise" else _rating_verdict(unit, got, rubric)
        verdict.update(unit_id=unit["unit_id"], item_id=unit["item_id"], judge=config.name, template=tmpl.name,
                       template_sha256=tmpl.sha256, settings=settings,
                       prompt_sha256=[k for k in keys[cursor - len(requests):cursor]])
        verdicts.append(verdict)
    return JudgeRun(verdicts, _record(verdicts, kind, config, tmpl, flat, todo, replies, sent_tokens, sent_seconds,
                                      wall))


def _record(verdicts, kind, config, tmpl, flat, todo, replies, sent_tokens, sent_seconds, wall) -> dict:
    statuses = [v["status"] for v in verdicts]
    cached_tokens = [0, 0]
    for i, reply in enumerate(replies):
        if isinstance(reply, Reply) and i not in set(todo):
            cached_tokens[0] += reply.prompt_tokens
            cached_tokens[1] += reply.completion_tokens
    units = len(verdicts)
    all_prompt, all_completion = sent_tokens[0] + cached_tokens[0], sent_tokens[1] + cached_tokens[1]
    return {
        "judge": config.name, "kind": kind, "template": tmpl.name, "template_sha256": tmpl.sha256,
        "settings": config.settings(), "units": units, "calls": len(flat), "sent": len(todo),
        "cached": len(flat) - len(todo), "ok": statuses.count("ok"), "unparsed": statuses.count("unparsed"),
        "errors": statuses.count("error"),
        "order_inconsistent": sum(1 for v in verdicts if v.get("order_consistent") is False),
        "prompt_tokens": all_prompt, "completion_tokens": all_completion,
        "sent_prompt_tokens": sent_tokens[0], "sent_completion_tokens": sent_tokens[1],
        "wall_s": round(wall, 3), "request_seconds": round(sent_seconds, 3),
        "per_1000_units": {"prompt_tokens": round(all_prompt * 1000 / units) if units else 0,
                           "completion_tokens": round(all_completion * 1000 / units) if units else 0,
                           "wall_s": round(wall * 1000 / len(todo) * len(flat) / units, 1) if units and todo else None},
    }
