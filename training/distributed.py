"""Running a stage under `accelerate launch`: per-rank placement, and work done once.

Every rank runs the same stage function. Training and the collective steps of saving run on
all ranks; files (adapter, merged model, run.json, metrics.jsonl, plots) are written by the
main process only, after a barrier, so no file is written twice at once.
"""

from __future__ import annotations

import os


def process_state():
    """accelerate's view of this process (initialises the process group under `accelerate launch`)."""
    from accelerate import PartialState

    return PartialState()


def is_main_process() -> bool:
    return process_state().is_main_process


def wait_for_everyone() -> None:
    process_state().wait_for_everyone()


def shards_parameters() -> bool:
    """ZeRO-3 and FSDP shard the weights across ranks: no device_map, and gather before saving."""
    state = process_state()
    kind = str(state.distributed_type)
    if "FSDP" in kind:
        return True
    return "DEEPSPEED" in kind and os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE", "") == "3"


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
