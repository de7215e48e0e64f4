"""A KV cache for batched generation that writes each step into memory reserved up front.

transformers' DynamicCache appends each new token with torch.cat, which copies the whole cache of
every layer at every step: with a small model on a CPU that copy cost as much as the attention
itself (bench/generation.py). Here each full-attention layer reserves room for the prompt plus
max_new_tokens once and hands attention a view of the part written so far: the same keys and values,
so the same answers, without the copy. A StaticCache avoids the copy too, but attends over its whole
length at every step. Sliding-window and other special layers keep transformers' own behaviour.
"""

from __future__ import annotations

import functools


def cache_argument() -> str:
    """generate()'s keyword for a cache: `cache` from transformers 5.24 (`past_key_values` deprecated), before it
    `past_key_values`."""
    from transformers.generation import utils

    return "cache" if "cache" in getattr(utils, "ALL_CACHE_NAMES", ()) else "past_key_values"


def preallocated_cache(model, capacity: int):
    """A DynamicCache for `model` whose plain full-attention layers hold `capacity` tokens without copying."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    layer_class = reserved_layer_class()
    cache = DynamicCache(config=model.config)
    cache.layers = [layer_class(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


@functools.cache
def reserved_layer_class():
    """The layer class, built on first use so that importing this module does not import transformers."""
    import torch
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        """DynamicLayer whose keys/values are views of buffers of `capacity` tokens; past the capacity
        (or after something replaced the views, e.g. a beam reorder) it reserves again, copying once."""

        def __init__(self, capacity: int):
            super().__init__()
            self.capacity = capacity
            self._buffers = None

        def lazy_initialization(self, key_states, value_states) -> None:
            super().lazy_initialization(key_states, value_states)
            self._reserve(key_states, value_states, self.capacity)

        def _reserve(self, key_states, value_states, capacity: int) -> None:
            """Fresh buffers for `capacity` tokens holding what the layer has so far (self.keys/values)."""
            past = self.keys.shape[-2] if self.keys is not None and self.keys.dim() == 4 else 0
            shape_k = (*key_states.shape[:2], capacity, key_states.shape[-1])
            shape_v = (*value_states.shape[:2], capacity, value_states.shape[-1])
            buffers = (torch.empty(shape_k, dtype=key_states.dtype, device=key_states.device),
                       torch.empty(shape_v, dtype=value_states.dtype, device=value_states.device))
            if past:
                buffers[0][:, :, :past] = self.keys
                buffers[1][:, :, :past] = self.values
            self._buffers = buffers
            self.keys, self.values = buffers[0][:, :, :past], buffers[1][:, :, :past]
            self._views = (self.keys, self.values)

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            start = self.keys.shape[-2]
            end = start + key_states.shape[-2]
            replaced = self.keys is not self._views[0] or self.values is not self._views[1]
            if (replaced or end > self._buffers[0].shape[-2]
                    or key_states.shape[0] != self._buffers[0].shape[0]):
                self._reserve(key_states, value_states, max(end, self.capacity))
            keys, values = self._buffers
            keys[:, :, start:end] = key_states
            values[:, :, start:end] = value_states
            self.keys, self.values = keys[:, :, :end], values[:, :, :end]
            self._views = (self.keys, self.values)
            return self.keys, self.values

        def reset(self) -> None:
            super().reset()
            self._buffers = None

    return ReservedLayer


def prefilled_cache(model, input_ids, attention_mask, capacity: int):
    """The cache of a left-padded batch after all but its last column, computed without padding masks,
    or None where that does not apply (then transformers does the prefill itself).

    transformers' prefill of a left-padded batch builds a (batch, 1, width, width) padding mask and the
    attention converts it for every layer; a mask also keeps SDPA from skipping the blocks above the
    diagonal. Here the prompts (last token held back) are right-padded instead, so causal attention
    alone is exact for every real token, and each row's keys and values are then moved to where
    left padding puts them: generate() continues from this cache with the last column, attending to
    the same keys and values at the same places as after its own prefill.
    """
    import torch
    from transformers import DynamicCache

    width = input_ids.shape[1]
    cache = preallocated_cache(model, capacity)
    if width < 2 or not all(type(layer) is reserved_layer_class() for layer in cache.layers):
        return None  # sliding-window or other special layers: transformers' own prefill
    if not bool(attention_mask[:, -1].all()):
        return None  # not left-padded
    real = attention_mask.sum(dim=1) - 1  # real tokens before each row's last one
    columns = torch.arange(width - 1, device=input_ids.device)
    source = columns[None, :] - (width - 1 - real[:, None])  # left-padded column -> right-padded column
    padding = source < 0
    source = source.clamp(min=0)
    # the prompts without their last token, right-padded (with token 0: what follows a row's end is never attended to)
    right = input_ids[:, :-1].gather(1, (columns[None, :] + (width - 1 - real[:, None])).clamp(max=width - 2))
    right = right.masked_fill(columns[None, :] >= real[:, None], 0)
    prefill = DynamicCache(config=model.config)
    model(input_ids=right, use_cache=True, logits_to_keep=1, **{cache_argument(): prefill})
    for layer, computed in zip(cache.layers, prefill.layers, strict=True):
        index = source[:, None, :, None].to(computed.keys.device)  # a layer may sit on another device
        keys = computed.keys.gather(2, index.expand(-1, computed.keys.shape[1], -1, computed.keys.shape[3]))
        values = computed.values.gather(2, index.expand(-1, computed.values.shape[1], -1, computed.values.shape[3]))
        hidden = padding[:, None, :, None].to(computed.keys.device)
        layer.update(keys.masked_fill(hidden, 0), values.masked_fill(hidden, 0))
        computed.keys = computed.values = None  # one layer's copy at a time: the peak stays near one cache
    return cache
