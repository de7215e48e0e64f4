"""A KV cache for batched generation that writes each step into memory reserved up front.

transformers' DynamicCache appends each new token with torch.cat, which copies the whole cache of
every layer at every step: with a small model on a CPU that copy cost as much as the attention
itself (bench/generation.py). Here each full-attention layer reserves room for the prompt plus
max_new_tokens once and hands attention a view of the part written so far: the same keys and values,
so the same answers, without the copy. A StaticCache avoids the copy too, but attends over its whole
length at every step. Sliding-window and other special layers keep transformers' own behaviour.
"""

from __future__ import annotations


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


_LAYER_CLASS = None


def reserved_layer_class():
    """The layer class, built on first use so that importing this module does not import transformers."""
    global _LAYER_CLASS
    if _LAYER_CLASS is None:
        _LAYER_CLASS = _build_layer_class()
    return _LAYER_CLASS


def _build_layer_class():
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
