"""Chapter 10 experiments: an LSTM and a Transformer of similar size on the same task, and what each costs.

Both models map ``x`` ``(batch, time, input_size)`` to one output per step ``(batch, time, output_size)``,
causally (step ``t`` sees steps ``<= t`` only), and both can run one new step at a time:

- :class:`LSTMModel`: ``course_lib.nn.LSTM`` + a linear read-out; its streaming state is ``(h, c)``.
- :class:`TransformerModel`: a linear embedding + causal ``course_lib.nn.TransformerEncoder`` + a linear
  read-out; its streaming state is one :class:`course_lib.nn.KVCache` per layer.

The measurements (book ch. 09, "What each costs"), each a small function:

- :func:`train_adding`: :func:`course_lib.experiments.tasks.train_adding`, as a curve of validation MSEs.
- :func:`step_times`: median seconds of one training step (forward + backward) for several lengths.
- :func:`graph_depth` / :func:`sequential_depth`: the longest chain of operations autograd records,
  i.e. how many steps must run one after the other (T for a recurrence, a constant for attention).
- :func:`activation_bytes`: bytes of the tensors saved for the backward pass (the activation memory of
  training), counted exactly with ``torch.autograd.graph.saved_tensors_hooks``; :func:`cuda_peak_bytes`
  the peak of a training step on a GPU.
- :func:`streaming`: decode token by token, recording the state's bytes and the seconds per new token;
  :func:`recompute_seconds`: the cost per token without a cache (a full forward over the prefix).
"""
from __future__ import annotations

import time

import torch

from .. import nn as cnn
from ..core.timing import sync, time_interleaved
from .measure import saved_tensor_bytes
from .models import SequenceModel, TransformerCore
from .tasks import count_parameters, train_adding as _train_adding

__all__ = ["LSTMModel", "TransformerModel", "attention_weights", "count_parameters",
           "train_adding", "step_times", "graph_depth",
           "sequential_depth", "activation_bytes", "cuda_peak_bytes", "state_nbytes", "streaming",
           "recompute_seconds"]


def LSTMModel(input_size, hidden_size, output_size=1, impl="fused"):
    """``course_lib.nn.LSTM`` + ``Linear(hidden, output_size)`` at every step (a per-step
    :class:`~course_lib.experiments.models.SequenceModel`); ``step(x_t, state)`` costs O(1) per token.
    ``impl="loop"`` lets autograd see every step (see :func:`sequential_depth`)."""
    return SequenceModel("lstm", input_size, hidden_size, output_size, impl=impl)


def TransformerModel(input_size, d_model, nhead, num_layers, dim_feedforward, output_size=1):
    """``Linear(input_size, d_model)`` + causal ``course_lib.nn.TransformerEncoder`` + ``Linear(d_model,
    output_size)`` (a :class:`~course_lib.experiments.models.SequenceModel` over a
    :class:`~course_lib.experiments.models.TransformerCore`); ``step`` grows one ``KVCache`` per layer."""
    return SequenceModel("transformer", input_size, d_model, output_size, nhead=nhead, num_layers=num_layers,
                         dim_feedforward=dim_feedforward)


@torch.no_grad()
def attention_weights(model, x):
    """Attention weights of the first layer of a :class:`TransformerModel`: ``(batch, heads, time, time)``.

    Row ``i`` holds how much position ``i`` attends to each position (zero above the diagonal: causal).
    """
    if not isinstance(getattr(model, "rnn", None), TransformerCore):
        raise TypeError(f"model must be a TransformerModel (a SequenceModel over a TransformerCore); got "
                        f"{type(model).__name__}")
    model._inputs(x)
    enc = model.rnn.encoder
    h = model.rnn.embed(x)
    h = h + cnn.sinusoidal_positional_encoding(h.shape[1], enc.d_model, device=h.device, dtype=h.dtype)
    layer = enc.layers[0]
    return layer.self_attn(layer.norm1(h), causal=True, need_weights=True)[1]


def train_adding(model, cfg, device=None, progress=True, desc="train"):
    """:func:`course_lib.experiments.tasks.train_adding` (read-out at the last step, MSE); returns
    ``(val_steps, val_mse)``, the held-out MSE every ``cfg.eval_every`` steps."""
    run = _train_adding(model, cfg, device=device, progress=progress, desc=desc)
    return run.history.eval_steps, run.history.metrics["val_mse"]


def _train_step(model, x):
    def run():
        model.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
    return run


def step_times(models, lengths, batch=16, repeats=5, device=None):
    """Median seconds of one forward + backward pass over ``(batch, T, input_size)`` random inputs.

    ``models``: dict name -> model (all with the same ``input_size``); returns dict name -> list of
    seconds, one per T in ``lengths``. The models are timed interleaved at each T (fair under load).
    """
    device = torch.device(device) if device is not None else next(iter(models.values())).out.weight.device
    sizes = {m.input_size for m in models.values()}
    if len(sizes) != 1:
        raise ValueError(f"models must share input_size; got {sorted(sizes)}")
    d = sizes.pop()
    out = {name: [] for name in models}
    gen = torch.Generator().manual_seed(0)
    for T in lengths:
        x = torch.randn(batch, T, d, generator=gen).to(device)
        t = time_interleaved({n: _train_step(m, x) for n, m in models.items()}, device, repeats, warmup=1)
        for name in models:
            out[name].append(t[name])
    return out


def graph_depth(tensor):
    """Length of the longest path of autograd nodes from ``tensor.grad_fn`` down to the leaves.

    Each node is one recorded operation; the longest path is the number of operations that must run
    one after another in the backward pass (and, mirrored, in the forward pass).
    """
    if not isinstance(tensor, torch.Tensor) or tensor.grad_fn is None:
        raise ValueError("tensor must be the result of a computation recorded by autograd (it has no grad_fn)")
    depth = {}
    stack = [(tensor.grad_fn, False)]
    while stack:                                   # iterative post-order DFS: graphs can be 10,000s deep
        node, expanded = stack.pop()
        if node in depth:
            continue
        children = [n for n, _ in node.next_functions if n is not None]
        if expanded:
            depth[node] = 1 + max((depth[c] for c in children), default=0)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in depth)
    return depth[tensor.grad_fn]


def sequential_depth(model, T, batch=2):
    """:func:`graph_depth` of ``model(x).sum()`` for one ``(batch, T, input_size)`` input."""
    x = torch.randn(batch, T, model.input_size, device=model.out.weight.device)
    return graph_depth(model(x).sum())


def activation_bytes(model, x):
    """Bytes of the tensors autograd saves for the backward pass of ``model(x)`` (parameters excluded): the
    activation memory of training, :func:`course_lib.experiments.measure.saved_tensor_bytes`."""
    return saved_tensor_bytes(model, x)


def cuda_peak_bytes(model, x):
    """Peak GPU memory allocated during one forward + backward pass, minus what was allocated before."""
    if x.device.type != "cuda":
        raise ValueError(f"cuda_peak_bytes needs a CUDA tensor; got one on {x.device}")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    _train_step(model, x)()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def state_nbytes(state):
    """Bytes of a streaming state: an LSTM's ``(h, c)`` or a Transformer's list of ``KVCache``."""
    if state is None:
        return 0
    if isinstance(state, list):                   # one KVCache per layer
        return sum(c.nbytes for c in state)
    return sum(t.numel() * t.element_size() for t in state)


@torch.no_grad()
def streaming(model, T, batch=1, seed=0):
    """Feed ``T`` random inputs one step at a time; return ``(state_bytes, seconds)``, one entry per step.

    ``state_bytes[t]`` is what the model must keep after step ``t + 1`` to continue (exact);
    ``seconds[t]`` the wall time of that step (noisy: take medians over windows).
    """
    model.eval()
    device = model.out.weight.device
    x = torch.randn(batch, T, model.input_size, generator=torch.Generator().manual_seed(seed)).to(device)
    state, nbytes, seconds = model.init_state(), [], []
    for t in range(T):
        sync(device)
        start = time.perf_counter()
        _, state = model.step(x[:, t], state)
        sync(device)
        seconds.append(time.perf_counter() - start)
        nbytes.append(state_nbytes(state))
    return nbytes, seconds


@torch.no_grad()
def recompute_seconds(model, lengths, batch=1, repeats=5):
    """Median seconds of ``model(x)`` for prefixes of each length: the cost of one new token without a cache."""
    model.eval()
    device = model.out.weight.device
    out = []
    for T in lengths:
        x = torch.randn(batch, T, model.input_size, device=device)
        out.append(time_interleaved({"full": lambda: model(x)}, device, repeats, warmup=1)["full"])
    return out
