"""The model judge against a real OpenAI-compatible server on 127.0.0.1 (training.judge.serve with
the tiny model, started by the test) and through the local transformers backend."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from training.judge import prompts
from training.judge.backends import JudgeError
from training.judge.config import JudgeConfig, JudgeConfigError, load_judge_config
from training.judge.runner import run_judge

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = {"criteria": [{"id": "quality", "question": "How good is this answer?", "required": True,
                        "scale": {"type": "likert", "points": 5, "anchors": {str(p): f"grade {p}" for p in range(1, 6)}}},
                       {"id": "safe", "question": "Is it safe?", "required": False,
                        "scale": {"type": "binary", "yes": "Safe", "no": "Unsafe"}}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def judge_server(tiny_model):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "training.judge.serve", "--model", str(tiny_model), "--name",
                                "tiny", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"judge server exited: {process.stdout.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("judge server did not start within 60 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def units(tiny_data):
    rows = [json.loads(line) for line in (tiny_data / "holdout.jsonl").read_text().splitlines()][:4]
    return [{"unit_id": k, "item_id": row["id"], "question": row["question"], "context": row["context"][:200],
             "system_1": "sft", "answer_1": row["answer"][:160], "system_2": "dpo", "answer_2": "I cannot say."}
            for k, row in enumerate(rows)]


def _config(tmp_path, **overrides) -> JudgeConfig:
    values = {"name": "tiny-judge", "backend": "openai", "model": "tiny", "decoding": "choice", "max_retries": 0,
              "timeout_s": 30, "cache_dir": str(tmp_path / "cache")}
    values.update(overrides)
    return JudgeConfig(**values)


@pytest.mark.slow
def test_served_judge_gives_verdicts_counts_tokens_and_a_rerun_costs_nothing(judge_server, units, tmp_path):
    config = _config(tmp_path, base_url=judge_server)
    first = run_judge(units, "pairwise", config, progress=False)
    assert [v["status"] for v in first.verdicts] == ["ok"] * 4
    for verdict in first.verdicts:
        assert all(reply in prompts.PAIRWISE_CHOICES for reply in verdict["replies"])
        assert verdict["preferred_system"] in ("sft", "dpo", "")
        assert verdict["template"] == "pairwise-v1" and verdict["template_sha256"] == prompts.PAIRWISE_V1.sha256
    record = first.record
    assert record["calls"] == 8 and record["sent"] == 8 and record["prompt_tokens"] > 8 * 20
    assert record["completion_tokens"] >= 8
    assert record["order_inconsistent"] == sum(1 for v in first.verdicts if not v["order_consistent"])
    again = run_judge(units, "pairwise", config, progress=False)
    assert again.record["sent"] == 0 and again.record["cached"] == 8
    assert [v["preferred_system"] for v in again.verdicts] == [v["preferred_system"] for v in first.verdicts]


@pytest.mark.slow
def test_local_backend_agrees_with_the_served_model(judge_server, units, tiny_model, tmp_path):
    served = run_judge(units, "pairwise", _config(tmp_path, base_url=judge_server), progress=False)
    local = run_judge(units, "pairwise", _config(tmp_path, backend="transformers", model=str(tiny_model)),
                      progress=False)
    assert [v["replies"] for v in local.verdicts] == [v["replies"] for v in served.verdicts]
    assert local.record["prompt_tokens"] == served.record["prompt_tokens"]


@pytest.mark.slow
def test_off_format_replies_are_counted_as_unparsed(judge_server, units, tmp_path):
    run = run_judge(units[:2], "pairwise", _config(tmp_path, base_url=judge_server, decoding="generate",
                                                  max_new_tokens=6), progress=False)
    statuses = [v["status"] for v in run.verdicts]
    # the tiny model writes PubMedQA-like text, not verdicts: whatever it writes is parsed or counted
    assert run.record["unparsed"] == statuses.count("unparsed") and set(statuses) <= {"ok", "unparsed"}
    assert run.record["unparsed"] + run.record["ok"] == 2


def test_unreachable_endpoint_is_a_clear_error(units, tmp_path):
    config = _config(tmp_path, base_url=f"http://127.0.0.1:{_free_port()}/v1", max_consecutive_errors=2)
    with pytest.raises(JudgeError, match="in a row failed .cannot connect.*cached; run the same command again"):
        run_judge(units, "pairwise", config, progress=False)


@pytest.mark.slow
def test_wrong_model_name_is_a_clear_error(judge_server, units, tmp_path):
    with pytest.raises(JudgeError, match="404"):
        run_judge(units[:1], "pairwise", _config(tmp_path, base_url=judge_server, model="gpt-none"), progress=False)


@pytest.mark.slow
def test_timeouts_are_counted_and_verdicts_already_made_are_kept(judge_server, units, tmp_path):
    good = _config(tmp_path, base_url=judge_server)
    kept = run_judge(units[:2], "pairwise", good, progress=False)
    hurried = _config(tmp_path, base_url=judge_server, timeout_s=0.001, max_consecutive_errors=50)
    run = run_judge(units, "pairwise", hurried.model_copy(update={"timeout_s": 0.001}), progress=False)
    # the settings that change a reply are the same, so the first two units come from the cache
    assert [v["status"] for v in run.verdicts] == ["ok", "ok", "error", "error"]
    assert [v["preferred_system"] for v in run.verdicts[:2]] == [v["preferred_system"] for v in kept.verdicts]
    assert run.record["errors"] == 2 and run.record["cached"] == 4
    assert all("timeout" in reply for v in run.verdicts[2:] for reply in v["replies"])


@pytest.mark.slow
def test_rating_units_through_the_local_backend(units, tiny_model, tmp_path):
    rating_units = [{"unit_id": u["unit_id"], "item_id": u["item_id"], "question": u["question"],
                     "context": u["context"], "system": "sft", "answer": u["answer_1"]} for u in units[:2]]
    run = run_judge(rating_units, "rating", _config(tmp_path, backend="transformers", model=str(tiny_model)),
                    rubric=RUBRIC, progress=False)
    for verdict in run.verdicts:
        assert verdict["status"] == "ok"
        assert verdict["ratings"]["quality"] in range(1, 6) and verdict["ratings"]["safe"] in (0, 1)
        assert verdict["template"] == "rating-v1"
    assert run.record["calls"] == 4


def test_judge_config_unknown_key_and_missing_endpoint_name_the_file_and_key(tmp_path):
    path = tmp_path / "judge.yaml"
    path.write_text(yaml.safe_dump({"name": "j", "backend": "openai", "model": "m", "base_url": "http://x/v1",
                                    "temprature": 0.2}))
    with pytest.raises(JudgeConfigError, match=r"judge.yaml: temprature: unknown key"):
        load_judge_config(path)
    path.write_text(yaml.safe_dump({"name": "j", "backend": "openai", "model": "m"}))
    with pytest.raises(JudgeConfigError, match="base_url"):
        load_judge_config(path)
    for shipped in sorted((ROOT / "configs" / "judges").glob("*.yaml")):
        assert load_judge_config(shipped).name


def test_missing_api_key_variable_is_named(tmp_path, monkeypatch, units):
    monkeypatch.delenv("MEDALIGN_TEST_JUDGE_KEY", raising=False)
    config = _config(tmp_path, base_url="http://127.0.0.1:9/v1", api_key_env="MEDALIGN_TEST_JUDGE_KEY")
    with pytest.raises(JudgeError, match=r"\$MEDALIGN_TEST_JUDGE_KEY, which is not set"):
        run_judge(units[:1], "pairwise", config, progress=False)


def test_parsers_accept_the_formats_and_refuse_the_rest():
    assert [prompts.parse_pairwise(t) for t in ("1", " 2.", "Tie", "Answer 1 is better", "maybe", "12", "")] == \
        ["1", "2", "tie", "1", None, None, None]
    likert = RUBRIC["criteria"][0]
    assert [prompts.parse_rating(t, likert) for t in ("4", "5/5", "7", "good")] == [4, 5, None, None]
    assert [prompts.parse_rating(t, RUBRIC["criteria"][1]) for t in ("Yes", "no.", "perhaps")] == [1, 0, None]
