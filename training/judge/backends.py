"""The judge's two ways to get a reply: a local Hugging Face model (transformers, batched, loaded as
`medalign generate` loads it) and any OpenAI-compatible chat-completions endpoint (vLLM, TGI,
Ollama, `transformers serve`, `python -m training.judge.serve`, a hosted API) through the `openai`
client, with bounded concurrency and the client's retries with exponential back-off.

A backend takes a list of requests (prompt, allowed choices or None) and yields (index, Reply or
RequestFailed) as replies arrive, so the runner can cache each one at once. A failure that no
retry can fix (endpoint unreachable at the start, wrong key, unknown model) raises JudgeError.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from training.judge.config import JudgeConfig


class JudgeError(RuntimeError):
    """The judge cannot go on; the message says why and what to check."""


@dataclass(frozen=True)
class Request:
    prompt: str
    choices: list[str] | None = None  # decoding "choice": the reply is one of these


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


@dataclass(frozen=True)
class RequestFailed:
    reason: str  # e.g. "timeout after 3 retries"


class TransformersBackend:
    """Batches of prompts through a local model; decoding "choice" picks the allowed reply with the
    highest log-likelihood (so the verdict is always on-format)."""

    def __init__(self, config: JudgeConfig):
        from training.generate import GenerationSettings, load_for_generation

        self.config = config
        self.settings = GenerationSettings(batch_size=config.batch_size or 8, max_new_tokens=config.max_new_tokens,
                                           do_sample=config.temperature > 0, temperature=config.temperature or 1.0,
                                           seed=config.seed, precision=config.precision)
        self.model, self.tokenizer = load_for_generation(config.model, self.settings)

    def _text(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):  # an instruct model: ask as its chat format expects
            return self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                      add_generation_prompt=True)
        return prompt

    def complete(self, requests: list[Request]) -> Iterator[tuple[int, Reply | RequestFailed]]:
        from training.generate import generate_batch

        size = self.settings.batch_size
        free = [i for i, r in enumerate(requests) if r.choices is None]
        for start in range(0, len(free), size):
            batch = free[start:start + size]
            began = time.perf_counter()
            texts = [self._text(requests[i].prompt) for i in batch]
            answers, counts = generate_batch(self.model, self.tokenizer, texts, self.settings)
            seconds = (time.perf_counter() - began) / len(batch)
            for i, text, answer, count in zip(batch, texts, answers, counts, strict=True):
                yield i, Reply(answer, len(self.tokenizer(text)["input_ids"]), count, seconds)
        for i, request in enumerate(requests):
            if request.choices is not None:
                began = time.perf_counter()
                text = self._text(request.prompt)
                best, prompt_tokens, choice_tokens = choose(self.model, self.tokenizer, text, request.choices)
                yield i, Reply(best, prompt_tokens, choice_tokens, time.perf_counter() - began)


def choose(model, tokenizer, prompt: str, choices: list[str]) -> tuple[str, int, int]:
    """The choice whose tokens are likeliest after the prompt (summed log-probabilities), the
    prompt's token count and the chosen reply's."""
    import torch

    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    scores, lengths = [], []
    sequences = [prompt_ids + tokenizer(c, add_special_tokens=False)["input_ids"] for c in choices]
    width = max(len(s) for s in sequences)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences], device=model.device)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences], device=model.device)
    with torch.inference_mode():
        logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    for row, sequence in enumerate(sequences):
        positions = range(len(prompt_ids), len(sequence))
        scores.append(sum(float(logprobs[row, p - 1, sequence[p]]) for p in positions))
        lengths.append(len(sequence) - len(prompt_ids))
    best = max(range(len(choices)), key=lambda k: scores[k])
    return choices[best], len(prompt_ids), lengths[best]


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server, `concurrency` requests in flight."""

    def __init__(self, config: JudgeConfig):
        import openai

        self.config = config
        key = "none"  # local servers (vLLM, Ollama, ours) accept any key unless started with one
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise JudgeError(f"the judge's API key is read from ${config.api_key_env}, which is not set")
        self.client = openai.OpenAI(base_url=config.base_url, api_key=key, max_retries=config.max_retries,
                                    timeout=config.timeout_s)

    def _one(self, request: Request) -> Reply:
        extra = {"structured_outputs": {"choice": request.choices}} if request.choices is not None else None
        began = time.perf_counter()
        response = self.client.chat.completions.create(
            model=self.config.model, messages=[{"role": "user", "content": request.prompt}],
            max_tokens=self.config.max_new_tokens, temperature=self.config.temperature, seed=self.config.seed,
            extra_body=extra)
        usage = response.usage
        text = response.choices[0].message.content or "" if response.choices else ""
        return Reply(text, getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0,
                     time.perf_counter() - began)

    def _fatal(self, exc: Exception) -> JudgeError | None:
        import openai

        where = f"{self.config.base_url} (model {self.config.model!r})"
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return JudgeError(f"the judge endpoint {where} refused the API key: {exc}")
        if isinstance(exc, openai.NotFoundError):
            return JudgeError(f"the judge endpoint {where} answered 404: wrong base_url (it usually ends in /v1) or "
                              f"a model it does not serve")
        return None

    def complete(self, requests: list[Request]) -> Iterator[tuple[int, Reply | RequestFailed]]:
        import openai

        if not requests:
            return
        consecutive = 0
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            futures = {pool.submit(self._one, r): i for i, r in enumerate(requests)}
            try:
                for future in as_completed(futures):
                    try:
                        yield futures[future], future.result()
                        consecutive = 0
                        continue
                    except openai.APIError as exc:
                        fatal = self._fatal(exc)
                        if fatal is not None:
                            raise fatal from None
                        reason = _reason(exc, self.config.max_retries)
                    consecutive += 1
                    yield futures[future], RequestFailed(reason)
                    if consecutive >= self.config.max_consecutive_errors:
                        raise JudgeError(f"{consecutive} judge requests in a row failed ({reason}) at "
                                         f"{self.config.base_url}: is the server up? Replies received so far are "
                                         f"cached; run the same command again to continue.")
            finally:
                for future in futures:
                    future.cancel()


def _reason(exc: Exception, retries: int) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"timeout after {retries} retries"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect after {retries} retries"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc)[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def make_backend(config: JudgeConfig):
    return TransformersBackend(config) if config.backend == "transformers" else OpenAIBackend(config)
