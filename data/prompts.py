"""Prompt templates: how a question (and its context) is shown to the model.

Templates use `{context}` and `{question}` placeholders (str.format syntax) and must end on a
newline, so that the answer starts a fresh token: TRL warns per example otherwise, and a
generation prompt that ends mid-token skews the first answer token.
"""

from __future__ import annotations

import string

from data.records import DataError

#: PubMedQA, as in the published recipe: the abstract's context prefixed to the question.
PUBMEDQA_TEMPLATE = "### Context:\n{context}\n\n### Question:\n{question}\n\n### Answer:\n"

#: MeQSum: the consumer health question, to be summarised.
MEQSUM_TEMPLATE = (
    "Summarize the consumer health question below as one short question.\n\n"
    "### Consumer question:\n{question}\n\n### Summary:\n"
)

_ALLOWED_FIELDS = {"context", "question"}


def validate_template(template: str, *, require_context: bool) -> str:
    """Check a template; return it unchanged or raise DataError naming the problem."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise DataError(f"prompt template is not valid format syntax: {exc}", field="template") from exc
    unknown = set(fields) - _ALLOWED_FIELDS
    if unknown:
        raise DataError(
            f"prompt template has unknown placeholder(s) {sorted(unknown)}; allowed: {{context}}, {{question}}",
            field="template",
        )
    if "question" not in fields:
        raise DataError("prompt template must contain {question}", field="template")
    if require_context:
        if "context" not in fields:
            raise DataError("prompt template must contain {context}", field="template")
        if fields.index("context") > fields.index("question"):
            raise DataError("prompt template must put {context} before {question}", field="template")
    if not template.endswith("\n"):
        raise DataError("prompt template must end on a newline separator", field="template")
    return template


def render_prompt(template: str, *, question: str, context: str) -> str:
    return template.format(question=question, context=context)
