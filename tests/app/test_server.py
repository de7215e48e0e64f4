"""The running server through gradio_client and plain HTTP: login, judging both study kinds
(outputs read by name), the researcher view's numbers against independent references, refusals."""

from __future__ import annotations

import json
from statistics import mean

import httpx
import numpy as np
import pytest
import statsmodels.api as sm
from gradio_client import Client

from app import storage
from app.study_files import read_study_items
from evaluation.contract import Choice
from evaluation.rubric import load_rubric
from medalign.demo.simulate import JudgingClient, named_outputs, simulate_rater
from tests.app.conftest import PASSWORD, RUBRIC

pytestmark = pytest.mark.slow
SYSTEMS = ("base", "sft", "dpo")


def login(base: str, name: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False)
    response = client.post("/login", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return client


def answers(i: int) -> dict[str, str]:
    """Answers that use more and more of the question's words (what the simulated raters prefer)."""
    return {"base": f"Answer {i}: nothing useful here.", "sft": f"Answer {i}: question {i} has an answer.",
            "dpo": f"Answer {i}: question {i}, context {i}."}


@pytest.fixture
def kinds(engine, tmp_path):
    """A three-system pairwise study and a rating study, 3 items each."""
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Question {i}?", "context": f"Context {i}.",
                                        "outputs": answers(i)}) + "\n"
                            for i in range(3)))
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    with storage.transaction(engine) as session:
        three = storage.create_study(session, name="three", systems=SYSTEMS, items=read_study_items(path, SYSTEMS),
                                     overlap=2)
        rating = storage.create_study(session, name="grading", kind="rating", systems=SYSTEMS[1:], overlap=2,
                                      items=read_study_items(path, SYSTEMS[1:]), rubric=load_rubric(tmp_path / "rubric.yaml"))
    return three, rating


def test_physician_judges_through_client_and_researcher_exports(server, engine, make_study, make_user):
    study = make_study(n=3)
    make_user("dr_a")
    make_user("boss", "researcher")
    client = JudgingClient(server, "dr_a", PASSWORD)
    screen = client.open(study.name)
    assert screen["status"] == "0 of 3 judged" and screen["kind"] == "pairwise" and not screen["done"]
    assert set(screen) >= {"question", "context", "answer_a", "answer_b", "token"}
    for _ in range(3):
        screen = client.submit_pairwise(screen, Choice.b, evasive_b=True, rationale="clear")
    assert screen["done"] and screen["status"].startswith("All done: 3 of 3")
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
    assert len(rows) == 3 and all(r["rationale"] == "clear" and r["choice"] == Choice.b for r in rows)

    researcher = login(server, "boss")
    csv = researcher.get(f"/export/{study.name}/judgments.csv")
    assert csv.status_code == 200 and csv.text.count("\n") == 4 and "preferred_system" in csv.text
    pairs = researcher.get(f"/export/{study.name}/dpo_pairs.jsonl")
    assert pairs.status_code == 200 and len(pairs.text.splitlines()) == 3


def test_retry_is_idempotent_and_a_different_verdict_names_the_stored_one(server, engine, make_study, make_user):
    study = make_study(n=3)
    make_user("dr_a")
    client = JudgingClient(server, "dr_a", PASSWORD)
    first = client.open(study.name)
    # no choice yet: refused (an API client gets an error; a browser keeps its screen), nothing is stored
    with pytest.raises(Exception, match="choose A better"):  # noqa: B017
        client.client.predict(first["token"], None, False, False, "", api_name="/submit")
    with storage.transaction(engine) as session:
        assert storage.export_judgments(session, study) == []
    after = client.submit_pairwise(first, Choice.a)
    assert client.submit_pairwise(first, Choice.a)["token"] == after["token"]  # a retry changes nothing
    with pytest.raises(Exception, match=r"already judged \(A better\)"):  # noqa: B017 - gradio_client's AppError
        client.submit_pairwise(first, Choice.tie)
    revised = client.revise_last()
    assert revised["revising"] and revised["token"] == first["token"]
    client.submit_pairwise(revised, Choice.tie)
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
    assert [(r["choice"], r["revisions"]) for r in rows] == [(Choice.tie, 1)]


def test_rating_refusals_retry_and_revision(server, engine, kinds, make_user):
    _three, rating = kinds
    make_user("dr_a")
    client = JudgingClient(server, "dr_a", PASSWORD)
    screen = client.open(rating.name)
    assert screen["kind"] == "rating" and "answer_a" not in screen and screen["answer"].startswith("Answer")
    assert [c["id"] for c in screen["criteria"]] == ["quality", "harmful", "style"]
    with pytest.raises(Exception, match=r'please answer "Could it cause harm\?"'):  # noqa: B017 - named by its question
        client.submit_rating(screen, {"quality": 4})
    with pytest.raises(Exception, match="not in the list of choices"):  # noqa: B017 - the radio refuses off-scale values
        client.submit_rating(screen, {"quality": 7, "harmful": 0})
    with pytest.raises(Exception, match="this is a rating study"):  # noqa: B017
        client.submit_pairwise(screen, Choice.a)
    after = client.submit_rating(screen, {"quality": 4, "harmful": 0})
    assert after["status"] == "1 of 6 judged"
    assert client.submit_rating(screen, {"quality": 4, "harmful": 0})["token"] == after["token"]  # retry: no change
    with pytest.raises(Exception, match=r"already judged \(harmful 0, quality 4\)"):  # noqa: B017
        client.submit_rating(screen, {"quality": 2, "harmful": 0})
    revised = client.revise_last()
    assert revised["revising"] and revised["token"] == screen["token"]
    client.submit_rating(revised, {"quality": 2, "harmful": 1, "style": "terse"}, free_text="on second thought")
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, rating)
    assert {r["criterion"]: (r["value"], r["revisions"], r["rationale"]) for r in rows} == {
        "quality": (2, 1, "on second thought"), "harmful": (1, 1, "on second thought"),
        "style": ("terse", 1, "on second thought")}


def reference_bradley_terry(rows: list[dict]) -> dict[str, float]:
    """Log-strengths from a statsmodels binomial GLM (ties as half a win; the first system's
    strength fixed at 0), centred to mean 0 as the researcher view shows them."""
    design = np.array([[(r["system_a"] == s) - (r["system_b"] == s) for s in SYSTEMS[1:]] for r in rows], dtype=float)
    score = [1.0 if r["choice"] == Choice.a else 0.0 if r["choice"] == Choice.b else 0.5 for r in rows]
    theta = np.concatenate([[0.0], sm.GLM(score, design, family=sm.families.Binomial()).fit().params])
    return dict(zip(SYSTEMS, theta - theta.mean(), strict=True))


def test_both_kinds_by_simulated_raters_and_the_researcher_view(server, engine, kinds, make_user):
    three, rating = kinds
    for name in ("dr_a", "dr_b"):
        make_user(name)
    make_user("boss", "researcher")
    for seed, name in enumerate(("dr_a", "dr_b")):
        assert simulate_rater(server, name, PASSWORD, three.name, seed=seed) == 9
        assert simulate_rater(server, name, PASSWORD, rating.name, seed=seed) == 6
    boss = Client(server, auth=("boss", PASSWORD), verbose=False)
    with storage.transaction(engine) as session:
        pair_rows = storage.export_judgments(session, three)
        rating_rows = storage.export_judgments(session, rating)
    view = named_outputs(boss, "/researcher_view", three.name)
    results = {(row[0], row[1].split(" ")[0]): row for row in view["Results"]["data"]}
    for first, second in [("base", "sft"), ("base", "dpo"), ("sft", "dpo")]:
        mine = [r for r in pair_rows if {r["system_a"], r["system_b"]} == {first, second}]
        wins = sum(r["preferred_system"] == second for r in mine)
        decisive = sum(r["preferred_system"] in (first, second) for r in mine)
        row = results[(f"{first}:{second}", "win")]
        # the report's headline (decisive votes by default; 2 physicians: bootstrap over items), interim: no plan
        low, high = (float(x) for x in row[3].split(" to "))
        assert row[2] == round(wins / decisive, 3) and low <= wins / decisive <= high and row[4] == 6
        assert "INTERIM" in row[1] and "interim" in row[5] and "physicians" in row[5]
    scores = {s: row[2] for (s, measure), row in results.items() if measure == "Bradley-Terry"}
    assert scores == pytest.approx(reference_bradley_terry(pair_rows), abs=2e-3)
    table = next(value for label, value in view.items() if label.startswith("Win matrix"))
    matrix = {row[0]: dict(zip(table["headers"][1:], row[1:], strict=True)) for row in table["data"]}
    for x in SYSTEMS:
        for y in set(SYSTEMS) - {x}:
            mine = [r for r in pair_rows if {r["system_a"], r["system_b"]} == {x, y}]
            won = sum(1.0 if r["preferred_system"] == x else 0.0 if r["preferred_system"] == y else 0.5 for r in mine)
            assert matrix[x][y] == round(won / len(mine), 3)
    view = named_outputs(boss, "/researcher_view", rating.name)
    means = {(row[0], row[1]): row for row in view["Results"]["data"]}
    for system in SYSTEMS[1:]:
        for criterion in ("quality", "harmful"):
            values = [r["value"] for r in rating_rows if r["system"] == system and r["criterion"] == criterion]
            label = f"{criterion}: mean" + (" (lower is better)" if criterion == "harmful" else "")
            assert means[(system, label)][2] == round(mean(values), 3)
            assert means[(system, label)][4] == len(values) == 6
            assert "physician variation" in means[(system, label)][5]  # two physicians: said in words
    assert "rating study of sft, dpo" in view["Summary"] and "12 judgments of 12 planned" in view["Summary"]


def test_refusals(server, make_study, make_user):
    study = make_study(n=2)
    make_user("dr_a")
    # no login: the API refuses
    anonymous = httpx.get(f"{server}/config")
    assert anonymous.status_code in (401, 403) or "auth_required" in anonymous.text
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own error types
        Client(server, verbose=False).predict(study.name, api_name="/open_study")
    # a physician calling the researcher endpoint by name gets an error and no data
    client = Client(server, auth=("dr_a", PASSWORD), verbose=False)
    with pytest.raises(Exception, match="researcher"):
        client.predict(study.name, api_name="/researcher_view")
    # nor the export route
    physician = login(server, "dr_a")
    assert physician.get(f"/export/{study.name}/judgments.csv").status_code == 403
    assert httpx.get(f"{server}/export/{study.name}/judgments.csv").status_code == 403


def test_login_failures_are_throttled(server, make_user):
    make_user("dr_a")
    for _ in range(3):
        assert httpx.post(f"{server}/login", data={"username": "dr_a", "password": "wrong-password"}).status_code == 400
    # locked now, even with the right password
    assert httpx.post(f"{server}/login", data={"username": "dr_a", "password": PASSWORD}).status_code == 400
