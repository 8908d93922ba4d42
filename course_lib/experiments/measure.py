"""What a training step costs in memory, counted exactly (not timed): shared by chapters 03 and 10.

:func:`saved_tensor_bytes` registers ``torch.autograd.graph.saved_tensors_hooks`` around one forward pass and adds
up the bytes of every tensor autograd saves for the backward pass, parameters excluded, each storage once.
"""
from __future__ import annotations

import torch

__all__ = ["saved_tensor_bytes"]


def saved_tensor_bytes(model, *inputs):
    """Bytes of the tensors autograd saves for the backward pass of ``model(*inputs)`` (parameters excluded).

    Each storage is counted once, however many operations save it (or views of it). This is the memory
    a training step must hold between its forward and its backward pass, beyond the weights.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = model(*inputs)
    del y
    return int(sum(seen.values()))
