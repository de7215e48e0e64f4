"""Per-rank decisions under `accelerate launch`, with accelerate's process state as each rank would see it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from training import distributed


def as_rank(monkeypatch, *, kind: str, local_rank: int = 0, cuda: bool = True, **env: str) -> None:
    state = SimpleNamespace(distributed_type=f"DistributedType.{kind}", local_process_index=local_rank)
    monkeypatch.setattr(distributed, "process_state", lambda: state)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    for name in ("ACCELERATE_DEEPSPEED_ZERO_STAGE", "ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL", "FSDP_STATE_DICT_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_each_rank_loads_4bit_onto_its_own_gpu(monkeypatch):
    as_rank(monkeypatch, kind="MULTI_GPU", local_rank=3)
    assert distributed.quantized_device_map() == {"": 3}
    as_rank(monkeypatch, kind="DEEPSPEED", local_rank=1, ACCELERATE_DEEPSPEED_ZERO_STAGE="2")
    assert distributed.quantized_device_map() == {"": 1}
    # the engine places shards itself
    as_rank(monkeypatch, kind="DEEPSPEED", local_rank=1, ACCELERATE_DEEPSPEED_ZERO_STAGE="3")
    assert distributed.quantized_device_map() is None
    as_rank(monkeypatch, kind="FSDP", local_rank=1)
    assert distributed.quantized_device_map() is None
    as_rank(monkeypatch, kind="NO", cuda=False)
    assert distributed.quantized_device_map() == {"": "cpu"}


def test_a_sharded_launch_that_would_save_shards_is_refused_before_training(monkeypatch):
    as_rank(monkeypatch, kind="FSDP", FSDP_STATE_DICT_TYPE="SHARDED_STATE_DICT")
    with pytest.raises(distributed.LaunchError, match="FULL_STATE_DICT"):
        distributed.check_final_save_is_gathered()
    as_rank(monkeypatch, kind="DEEPSPEED", ACCELERATE_DEEPSPEED_ZERO_STAGE="3", ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL="false")
    with pytest.raises(distributed.LaunchError, match="zero3_save_16bit_model"):
        distributed.check_final_save_is_gathered()
    for kind, env in (("FSDP", {"FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT"}),
                      ("DEEPSPEED", {"ACCELERATE_DEEPSPEED_ZERO_STAGE": "3", "ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL": "true"}),
                      ("DEEPSPEED", {"ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}), ("MULTI_GPU", {})):
        as_rank(monkeypatch, kind=kind, **env)
        distributed.check_final_save_is_gathered()


def test_fp32_cast_is_left_to_the_engine_when_it_shards(monkeypatch):
    from training.common import keep_adapters_fp32

    model = torch.nn.Linear(4, 4).to(torch.bfloat16)
    as_rank(monkeypatch, kind="DEEPSPEED", ACCELERATE_DEEPSPEED_ZERO_STAGE="3")
    assert keep_adapters_fp32(model) == 0 and model.weight.dtype == torch.bfloat16
    as_rank(monkeypatch, kind="MULTI_GPU")
    assert keep_adapters_fp32(model) == 2 and model.weight.dtype == model.bias.dtype == torch.float32


def test_plots_put_eval_beside_training(tmp_path):
    from training.runs import plot_metrics

    metrics = [{"step": 1, "epoch": 0.5, "loss": 0.7}, {"step": 2, "epoch": 1.0, "loss": 0.6},
               {"step": 2, "epoch": 1.0, "eval_loss": 0.65}]
    assert plot_metrics(metrics, [("loss", "eval_loss")], tmp_path / "a.png", "t").stat().st_size > 1000
    assert plot_metrics(metrics[2:], [("loss", "eval_loss")], tmp_path / "b.png", "t") is not None  # eval alone
    assert plot_metrics(metrics, [("rewards/margins", "eval_rewards/margins")], tmp_path / "c.png", "t") is None


def test_generation_refuses_several_processes(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from training.__main__ import app

    monkeypatch.setenv("WORLD_SIZE", "2")
    for args in (["generate", "--model", "m", "--data", "d.jsonl", "--system", "s", "--out", str(tmp_path / "g.jsonl")],
                 ["pairs", "--model", "m", "--data", "d.jsonl", "--out", str(tmp_path / "p")]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "runs in one process" in result.output, result.output
    assert not any(tmp_path.iterdir())
