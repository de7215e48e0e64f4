"""Chat templates: Instruct models are trained and asked in the format they were tuned on.

When the tokenizer has a chat template (and it is not switched off: recipe key
`training.chat_template: false`, `--no-chat-template`), every stage speaks TRL's conversational
format: the task's prompt is the user's message and the answer the assistant's. SFT, pairs, DPO,
generation, `eval run` and the model judge (`chat_prompt`) share these helpers; the choice and the
template's sha256 go into run.json, so scores of models asked differently are not compared.
"""

from __future__ import annotations

import hashlib

# The template the tiny test model gets when built with one (training/tiny_model.py): a prompt with
# add_generation_prompt is a prefix of prompt + answer, as TRL's completion-only loss needs.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% else %}{{ '\\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def uses_chat_template(tokenizer, wanted: bool = True) -> bool:
    """True when the tokenizer has a chat template and it is not switched off."""
    return bool(wanted and getattr(tokenizer, "chat_template", None))


def template_record(tokenizer, wanted: bool = True) -> dict:
    """What run.json says about the prompt format."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # several named templates: the default one is used
        template = template.get("default") or next(iter(template.values()), None)
    return {"used": uses_chat_template(tokenizer, wanted), "requested": wanted, "available": bool(template),
            "sha256": hashlib.sha256(template.encode("utf-8")).hexdigest() if template else None}


def user_turn(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def assistant_turn(answer: str) -> list[dict]:
    return [{"role": "assistant", "content": answer}]


def chat_prompt(tokenizer, prompt: str, *, use: bool = True) -> str:
    """The text a model is given: the prompt as the user's turn plus the assistant's opening when
    the tokenizer has a chat template (and `use`), else the plain prompt."""
    if not uses_chat_template(tokenizer, use):
        return prompt
    return tokenizer.apply_chat_template(user_turn(prompt), tokenize=False, add_generation_prompt=True)


def conversational(row: dict, answers: tuple[str, ...]) -> dict:
    """A prompt/answer row in TRL's conversational format (other columns kept)."""
    return {**row, "prompt": user_turn(row["prompt"]), **{a: assistant_turn(row[a]) for a in answers}}
