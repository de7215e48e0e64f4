"""Simulated physicians for the demo: they log in and judge through the running server, with
the same HTTP API and handlers a browser uses. Their accounts are marked `simulated`, and
every report and view labels them so. They are a demonstration, never evidence."""

from __future__ import annotations

import random
import re

from evaluation.helpfulness import EvasionDetector

# Outputs of the judging screen as gradio_client returns them (State and panels are not sent).
STATUS, BAR, QUESTION, CONTEXT, ANSWER_A, ANSWER_B = range(6)
TOKEN = -1


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def simulated_choice(question: str, context: str, answer_a: str, answer_b: str, rng: random.Random,
                     detector: EvasionDetector, noise: float = 0.15) -> tuple[str, bool, bool]:
    """A crude rater: prefers the non-evasive answer, then the one that uses more of the
    abstract's words; now and then picks at random (noise)."""
    evasive_a, evasive_b = detector.is_evasive(answer_a), detector.is_evasive(answer_b)
    if rng.random() < noise:
        return rng.choice(["A better", "B better", "Tie", "Both bad"]), evasive_a, evasive_b
    if evasive_a and evasive_b:
        return "Both bad", True, True
    if evasive_a != evasive_b:
        return ("B better" if evasive_a else "A better"), evasive_a, evasive_b
    source = _words(question + " " + context)
    score_a = len(_words(answer_a) & source) / (len(_words(answer_a)) + 1)
    score_b = len(_words(answer_b) & source) / (len(_words(answer_b)) + 1)
    if abs(score_a - score_b) < 0.02:
        return "Tie", evasive_a, evasive_b
    return ("A better" if score_a > score_b else "B better"), evasive_a, evasive_b


def simulate_rater(base_url: str, name: str, password: str, study: str, *, seed: int) -> int:
    """Judge every pair the server hands this rater; returns how many were submitted."""
    from gradio_client import Client

    client = Client(base_url, auth=(name, password), verbose=False)
    rng = random.Random(seed)
    detector = EvasionDetector()
    screen = client.predict(study, api_name="/open_study")
    submitted = 0
    while not screen[STATUS].startswith("All done"):
        choice, evasive_a, evasive_b = simulated_choice(
            screen[QUESTION], screen[CONTEXT], screen[ANSWER_A], screen[ANSWER_B], rng, detector
        )
        screen = client.predict(screen[TOKEN], choice, evasive_a, evasive_b, "simulated rater", api_name="/submit")
        submitted += 1
    return submitted
