"""Simulated physicians for the demo and the load test: they log in and judge through the
running server, with the same HTTP API and handlers a browser uses, and read the screen by
name (the `screen` JSON output), never by position. Their accounts are marked `simulated`, and
every report and view labels them so. They are a demonstration, never evidence."""

from __future__ import annotations

import random
import re

from gradio_client import Client

from app.ui.shell import SCREEN_LABEL
from evaluation.contract import Choice
from evaluation.helpfulness import EvasionDetector


def named_outputs(client, endpoint: str, *args) -> dict:
    """Call a gradio_client endpoint and return its outputs by label, not by position."""
    returns = client.view_api(return_format="dict", print_info=False)["named_endpoints"][endpoint]["returns"]
    result = client.predict(*args, api_name=endpoint)
    values = result if isinstance(result, tuple | list) and len(returns) > 1 else (result,)
    return {r["label"]: value for r, value in zip(returns, values, strict=True)}


class JudgingClient:
    """One physician's session on the server; every method returns the screen's public fields."""

    def __init__(self, base_url: str, name: str, password: str) -> None:
        self.client = Client(base_url, auth=(name, password), verbose=False)
        self._slots = len(self.client.view_api(return_format="dict", print_info=False)
                          ["named_endpoints"]["/submit_rating"]["parameters"]) - 2  # after the token and free text

    def _call(self, endpoint: str, *args) -> dict:
        return named_outputs(self.client, endpoint, *args)[SCREEN_LABEL]

    def open(self, study: str) -> dict:
        return self._call("/open_study", study)

    def submit_pairwise(self, screen: dict, choice: Choice | str, *, evasive_a=False, evasive_b=False,
                        rationale: str = "") -> dict:
        return self._call("/submit", screen["token"], Choice(choice).value, evasive_a, evasive_b, rationale)

    def submit_rating(self, screen: dict, grades: dict, *, free_text: str = "") -> dict:
        """`grades` maps criterion id to its stored value; the screen says which slot holds which."""
        values = [grades.get(c["id"]) for c in screen["criteria"]]
        return self._call("/submit_rating", screen["token"], free_text, *values, *[None] * (self._slots - len(values)))

    def revise_last(self) -> dict:
        return self._call("/revise_last")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _grounding(question: str, context: str, answer: str) -> float:
    """Share of the answer's words found in the question and abstract (0..1)."""
    return len(_words(answer) & _words(question + " " + context)) / (len(_words(answer)) + 1)


def simulated_choice(question: str, context: str, answer_a: str, answer_b: str, rng: random.Random,
                     detector: EvasionDetector, noise: float = 0.15) -> tuple[Choice, bool, bool]:
    """A crude rater: prefers the non-evasive answer, then the one that uses more of the
    abstract's words; now and then picks at random (noise)."""
    evasive_a, evasive_b = detector.is_evasive(answer_a), detector.is_evasive(answer_b)
    if rng.random() < noise:
        return rng.choice(list(Choice)), evasive_a, evasive_b
    if evasive_a and evasive_b:
        return Choice.both_bad, True, True
    if evasive_a != evasive_b:
        return (Choice.b if evasive_a else Choice.a), evasive_a, evasive_b
    score_a, score_b = _grounding(question, context, answer_a), _grounding(question, context, answer_b)
    if abs(score_a - score_b) < 0.02:
        return Choice.tie, evasive_a, evasive_b
    return (Choice.a if score_a > score_b else Choice.b), evasive_a, evasive_b


def simulated_grades(screen: dict, rng: random.Random, detector: EvasionDetector, noise: float = 0.7) -> dict:
    """Grades for every criterion on the screen: better for grounded, non-evasive answers, with
    noise; an optional criterion is skipped now and then; choice criteria pick at random."""
    quality = 0.0 if detector.is_evasive(screen["answer"]) else min(1.0, 2 * _grounding(
        screen["question"], screen["context"], screen["answer"]))
    grades = {}
    for criterion in screen["criteria"]:
        if not criterion["required"] and rng.random() < 0.2:
            continue
        values = [o["value"] for o in criterion["options"]]
        if not all(isinstance(v, int) for v in values):
            grades[criterion["id"]] = rng.choice(values)
            continue
        ordered = sorted(values) if criterion["higher_is_better"] else sorted(values, reverse=True)
        position = round(quality * (len(ordered) - 1) + rng.gauss(0, noise))
        grades[criterion["id"]] = ordered[min(len(ordered) - 1, max(0, position))]
    return grades


def simulate_rater(base_url: str, name: str, password: str, study: str, *, seed: int) -> int:
    """Judge every unit the server hands this rater (pairs or single answers); returns how many."""
    session = JudgingClient(base_url, name, password)
    rng = random.Random(seed)
    detector = EvasionDetector()
    screen = session.open(study)
    submitted = 0
    while not screen["done"]:
        if screen["kind"] == "rating":
            screen = session.submit_rating(screen, simulated_grades(screen, rng, detector), free_text="simulated rater")
        else:
            choice, evasive_a, evasive_b = simulated_choice(screen["question"], screen["context"], screen["answer_a"],
                                                            screen["answer_b"], rng, detector)
            screen = session.submit_pairwise(screen, choice, evasive_a=evasive_a, evasive_b=evasive_b,
                                             rationale="simulated rater")
        submitted += 1
    return submitted
