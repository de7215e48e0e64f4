"""Running a stage under `accelerate launch`: per-rank placement, and work done once.

Every rank runs the same stage function. Training and the collective steps of saving run on
all ranks; files (adapter, merged model, run.json, metrics.jsonl, plots) are written by the
main process only, after a barrier, so no file is written twice at once.
"""

from __future__ import annotations

import os


class LaunchError(ValueError):
    """The accelerate set-up cannot give what the stage must save."""


def process_state():
    """accelerate's view of this process (initialises the process group under `accelerate launch`)."""
    from accelerate import PartialState

    return PartialState()


def is_main_process() -> bool:
    return process_state().is_main_process


def wait_for_everyone() -> None:
    process_state().wait_for_everyone()


def launched_processes() -> int:
    """How many processes `accelerate launch`/torchrun started (read from the environment: no process group needed)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def single_process_only(command: str) -> None:
    """Generation writes one answers file as it goes: several ranks would race on it."""
    if launched_processes() > 1:
        raise LaunchError(f"`{command}` runs in one process (it appends to one file); start it with python -m training "
                          f"or medalign, not accelerate launch (on a GPU, --engine vllm is the faster engine)")


def shards_parameters() -> bool:
    """ZeRO-3 and FSDP shard the weights across ranks: no device_map, and gather before saving."""
    state = process_state()
    kind = str(state.distributed_type)
    if "FSDP" in kind:
        return True
    return "DEEPSPEED" in kind and os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE", "") == "3"


def check_final_save_is_gathered() -> None:
    """Refuse, before hours of training, a sharded set-up whose final save would not hold full weights.

    Trainer.save_model gathers ZeRO-3 shards only with zero3_save_16bit_model, and FSDP shards
    only with a FULL_STATE_DICT (the shipped configs/accelerate/zero3.yaml and fsdp2.yaml set both).
    """
    if not shards_parameters():
        return
    if "FSDP" in str(process_state().distributed_type):
        kind = os.environ.get("FSDP_STATE_DICT_TYPE", "")
        if kind and "FULL_STATE_DICT" not in kind:
            raise LaunchError(f"FSDP state dict type {kind}: the adapter would be saved sharded; "
                             "set fsdp_state_dict_type: FULL_STATE_DICT in the accelerate config")
    elif os.environ.get("ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL", "true") != "true":
        raise LaunchError("ZeRO-3 without zero3_save_16bit_model: the adapter would not be gathered on save; "
                         "set zero3_save_16bit_model: true in the accelerate config")


def quantized_device_map() -> dict | None:
    """Where this rank loads a 4-bit model: its own GPU (not GPU 0 for every rank), or the CPU.

    A 4-bit model must be placed at load time (bitsandbytes quantizes on the device); under
    ZeRO-3/FSDP the engine places the shards itself, so no map is given.
    """
    import torch

    if not torch.cuda.is_available():
        return {"": "cpu"}
    if shards_parameters():
        return None
    return {"": process_state().local_process_index}


def distributed_summary() -> dict:
    """What run.json records about the processes that trained."""
    state = process_state()
    return {"num_processes": state.num_processes, "distributed_type": str(state.distributed_type).split(".")[-1],
            "backend": state.backend, "zero_stage": os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE")}
