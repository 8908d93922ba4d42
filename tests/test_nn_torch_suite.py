"""PyTorch's own RNN tests, run against course_lib.nn (both impls) next to torch.nn.

1. Every ``ModuleInfo`` sample torch ships for ``nn.RNN``, ``nn.GRU``, ``nn.LSTM``
   (``torch/testing/_internal/common_modules.py``: unbatched inputs, states with and without a batch
   dimension, projections, packed sequences), on the same state_dict: outputs, states, first
   gradients (inputs and every parameter) and second derivatives (a gradient penalty) must be equal.
2. Every error input torch ships: where torch raises, we raise an exception of the same class
   (and, for the constructor, with torch's wording).
3. Ports of the RNN tests of PyTorch's ``test/test_nn.py``: ``test_rnn_args_check``,
   ``test_RNN_input_size_zero``, ``test_rnn_initial_hidden_state``, ``_test_RNN_cpu_vs_cudnn`` (here:
   torch.nn vs ours), ``test_RNN_dropout``, ``test_RNN_dropout_state``, ``test_*_grad_and_gradgrad``,
   ``test_variable_sequence``, the projection tests; plus ``torch.func.grad``, ``torch.autocast`` and
   bitwise reproducibility across processes.
4. The "not supported" rows of the table in :mod:`course_lib.nn.rnn` are pinned here too.
"""
import itertools
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence

from course_lib import nn as cnn

common_modules = pytest.importorskip("torch.testing._internal.common_modules",
                                     reason="torch's test helpers need the expecttest package")
from torch.testing._internal.common_modules import ModuleErrorEnum, module_db

# Importing torch's test helpers calls torch.backends.disable_global_flags() (torch's own suite sets cuDNN
# flags only inside flags() blocks); undo it, or course_lib.seed() in later tests of this worker would fail.
torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
TORCH = {"RNN": torch.nn.RNN, "GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM}
IMPLS = ["fused", "loop"]
INFOS = {info.module_cls.__name__: info for info in module_db if info.module_cls in TORCH.values()}


# ------------------------------------------------------------------ helpers
def twins(kind, impl, *args, seed=0, **kwargs):
    """A torch.nn layer and ours with the same weights."""
    torch.manual_seed(seed)
    ref = TORCH[kind](*args, **kwargs)
    ours = getattr(cnn, kind)(*args, impl=impl, **kwargs)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def leaves(tree):
    """The tensors of an output tree (tuples, lists, PackedSequence) in a fixed order."""
    if isinstance(tree, PackedSequence):
        return [tree.data]
    if isinstance(tree, torch.Tensor):
        return [tree]
    return [t for item in tree for t in leaves(item)]


def assert_same_structure(a, b):
    assert type(a) is type(b) or (isinstance(a, tuple) and isinstance(b, tuple)), (type(a), type(b))
    if isinstance(a, PackedSequence):
        assert torch.equal(a.batch_sizes, b.batch_sizes)
        for x, y in ((a.sorted_indices, b.sorted_indices), (a.unsorted_indices, b.unsorted_indices)):
            assert (x is None and y is None) or torch.equal(x, y)
    elif isinstance(a, torch.Tensor):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    else:
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_structure(x, y)


def close(a, b, tol):
    for x, y in zip(a, b):
        if x is None or y is None:
            x = torch.zeros_like(y) if x is None else x
            y = torch.zeros_like(x) if y is None else y
        torch.testing.assert_close(x, y, atol=tol, rtol=tol)


def compare(ref, ours, inputs, call, tol, second_order=True):
    """Run ``call(module)`` on both; compare outputs, gradients and a gradient penalty's gradients.

    ``inputs``: the differentiable input tensors both calls use. Returns nothing; asserts.
    """
    out_r, out_o = call(ref), call(ours)
    assert_same_structure(out_r, out_o)
    close(leaves(out_o), leaves(out_r), tol)
    gen = torch.Generator().manual_seed(7)
    weights = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in leaves(out_r)]
    names = [n for n, _ in ref.named_parameters()]
    firsts = []
    for mod, out in ((ref, out_r), (ours, out_o)):
        wrt = list(inputs) + [dict(mod.named_parameters())[n] for n in names]
        loss = sum((t * w).sum() for t, w in zip(leaves(out), weights))
        g = torch.autograd.grad(loss, wrt, create_graph=second_order, allow_unused=True)
        firsts.append((wrt, g))
    close(firsts[1][1], [x.detach() if x is not None else None for x in firsts[0][1]], tol)
    if not second_order:
        return
    seconds = []
    for wrt, g in firsts:
        penalty = sum((x * x).sum() for x in g if x is not None and x.requires_grad)
        if not torch.is_tensor(penalty):
            seconds.append([None] * len(wrt))
            continue
        seconds.append(torch.autograd.grad(penalty, wrt, allow_unused=True))
    # second derivatives of a squared gradient reach 1e3..1e4 here: in float32 compare them relative to
    # their own scale (float32 keeps ~7 digits), in float64 to 1e-9
    if tol >= 1e-6:
        scale = max([float(x.abs().max()) for x in seconds[0] if x is not None and x.numel()] + [1.0])
        close(seconds[1], seconds[0], 1e-5 * scale)
    else:
        close(seconds[1], seconds[0], tol * 10)


def call_with(fi):
    def call(module):
        return module(*fi.args, **fi.kwargs)
    return call


def sample_inputs(kind, dtype, training):
    info = INFOS[kind]
    extra = {"with_packed_sequence": True} if kind != "LSTM" else {}
    return info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=True, training=training,
                                   **extra)


# ------------------------------------------------------------------ 1. torch's ModuleInfo samples
SAMPLES = [(kind, i, dtype, training) for kind in TORCH for dtype in (torch.float64, torch.float32)
           for training in (True, False) for i in range(len(sample_inputs(kind, dtype, training)))]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind,index,dtype,training", SAMPLES,
                         ids=[f"{k}-{i}-{str(d)[6:]}-{'train' if t else 'eval'}" for k, i, d, t in SAMPLES])
def test_module_info_sample(kind, index, dtype, training, impl):
    sample = sample_inputs(kind, dtype, training)[index]
    ci, fi = sample.constructor_input, sample.forward_input
    ref, ours = twins(kind, impl, *ci.args, **ci.kwargs)
    ref, ours = ref.to(dtype).train(training), ours.to(dtype).train(training)
    inputs = [t for t in leaves(list(fi.args) + list(fi.kwargs.values())) if t.requires_grad]
    compare(ref, ours, inputs, call_with(fi), TOL[dtype])


# ------------------------------------------------------------------ 2. torch's error inputs
ERRORS = [(kind, i) for kind in TORCH
          for i in range(len(INFOS[kind].module_error_inputs_func(
              INFOS[kind], device="cpu", dtype=torch.float32, requires_grad=False, training=True)))]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind,index", ERRORS, ids=[f"{k}-{i}" for k, i in ERRORS])
def test_module_error_input(kind, index, impl):
    info = INFOS[kind]
    err = info.module_error_inputs_func(info, device="cpu", dtype=torch.float32, requires_grad=False,
                                        training=True)[index]
    ci, fi = err.module_error_input.constructor_input, err.module_error_input.forward_input
    if err.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR:
        with pytest.raises(err.error_type, match=err.error_regex):       # torch's own expectation ...
            TORCH[kind](*ci.args, **ci.kwargs)
        with pytest.raises(err.error_type, match=err.error_regex):       # ... holds for ours
            getattr(cnn, kind)(*ci.args, impl=impl, **ci.kwargs)
    else:
        ref, ours = twins(kind, impl, *ci.args, **ci.kwargs)
        with pytest.raises(err.error_type, match=err.error_regex):
            ref(*fi.args, **fi.kwargs)
        with pytest.raises(err.error_type, match=err.error_regex):
            ours(*fi.args, **fi.kwargs)


# ------------------------------------------------------------------ 3. test_nn.py's RNN tests
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_rnn_args_check(kind, impl):
    """test_nn.py ``test_rnn_args_check``: every wrong size raises RuntimeError, in torch and here."""
    input_size, hidden_size, num_layers, seq_len, batch = 3, 5, 2, 4, 6
    cases = {"input": (seq_len, batch, input_size + 1), "hidden": (num_layers, batch, hidden_size + 1),
             "batch": (num_layers, batch + 1, hidden_size), "layers": (num_layers + 1, batch, hidden_size)}
    for what, bad in cases.items():
        x_shape = bad if what == "input" else (seq_len, batch, input_size)
        h_shape = bad if what != "input" else (num_layers, batch, hidden_size)
        for mod in twins(kind, impl, input_size, hidden_size, num_layers):
            x, h = torch.randn(x_shape), torch.randn(h_shape)
            hx = (h, torch.randn(num_layers, batch, hidden_size)) if kind == "LSTM" else h
            with pytest.raises(RuntimeError):
                mod(x, hx)
            if kind == "LSTM" and what != "input":                  # a wrong cell state too
                with pytest.raises(RuntimeError):
                    mod(torch.randn(seq_len, batch, input_size), (torch.randn(num_layers, batch, hidden_size), h))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_RNN_input_size_zero(kind, impl):
    """test_nn.py ``test_RNN_input_size_zero``: a batch of zero sequences runs, forward and backward."""
    for mod in twins(kind, impl, 3, 4):
        x = torch.zeros(5, 0, 3, requires_grad=True)
        out, _ = mod(x)
        assert out.shape == (5, 0, 4)
        out.sum().backward()
        assert x.grad.shape == x.shape


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_rnn_initial_hidden_state(kind, impl):
    """test_nn.py ``test_rnn_initial_hidden_state``: hx = zeros is the same as no hx."""
    _, ours = twins(kind, impl, 30, 20, 2)
    x = torch.randn(10, 32, 30)
    h = torch.zeros(2, 32, 20)
    hx = (h, h) if kind == "LSTM" else h
    out1, st1 = ours(x, hx)
    out2, st2 = ours(x)
    torch.testing.assert_close(out1, out2, rtol=0, atol=0)
    close(leaves(st1), leaves(st2), 0)


CONFIGS = list(itertools.product(["RNN_TANH", "RNN_RELU", "LSTM", "GRU"], [True, False], [1, 2], [False, True],
                                 [False, True], [False, True], [False, True]))


def _config_id(c):
    mode, bias, layers, bidir, bf, var_len, hx = c
    return f"{mode}-bias{int(bias)}-L{layers}-bi{int(bidir)}-bf{int(bf)}-var{int(var_len)}-hx{int(hx)}"


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("config", CONFIGS, ids=[_config_id(c) for c in CONFIGS])
def test_RNN_vs_torch(config, impl):
    """test_nn.py ``_test_RNN_cpu_vs_cudnn`` with torch.nn as the reference: every combination of
    bias, layers, direction, batch_first, variable lengths (packed) and an initial state (float64)."""
    mode, bias, num_layers, bidirectional, batch_first, variable_len, with_hx = config
    kind = mode.split("_")[0]
    kw = {"nonlinearity": mode.split("_")[1].lower()} if kind == "RNN" else {}
    input_size, hidden_size, batch, T = 10, 7, 5, 6
    D = 2 if bidirectional else 1
    ref, ours = twins(kind, impl, input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                      bidirectional=bidirectional, dtype=torch.float64, **kw)
    gen = torch.Generator().manual_seed(3)
    rand = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64).requires_grad_()
    x = rand(batch, T, input_size) if batch_first else rand(T, batch, input_size)
    inputs = [x]
    hx = None
    if with_hx:
        h = rand(num_layers * D, batch, hidden_size)
        hx = (h, rand(num_layers * D, batch, hidden_size)) if kind == "LSTM" else h
        inputs += leaves(hx)
    lengths = [6, 5, 5, 2, 1]
    if variable_len:
        def call(mod):
            packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=True)
            return mod(packed, hx)
    else:
        def call(mod):
            return mod(x, hx)
    compare(ref, ours, inputs, call, TOL[torch.float64])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_lengths_keyword_equals_packed(kind, impl):
    """Our ``lengths=`` and torch's packing agree (unsorted lengths: enforce_sorted=False)."""
    ref, ours = twins(kind, impl, 4, 5, 2, batch_first=True, bidirectional=True, dtype=torch.float64)
    x = torch.randn(4, 7, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 7, 1, 5])

    def call(mod):
        if mod is ours:
            return mod(x, lengths=lengths)
        out, st = mod(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return pad_packed_sequence(out, batch_first=True, total_length=7)[0], st
    compare(ref, ours, [x], call, 1e-10)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_variable_sequence(kind, impl):
    """test_nn.py ``test_variable_sequence``: a packed batch equals each sequence run alone."""
    _, ours = twins(kind, impl, 3, 4, 2, bidirectional=True, dtype=torch.float64)
    lengths = [5, 4, 2, 1]
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in lengths]
    out, state = ours(pack_sequence(seqs))
    padded, lens = pad_packed_sequence(out)
    assert lens.tolist() == lengths
    h_n = state[0] if kind == "LSTM" else state
    for b, s in enumerate(seqs):
        single_out, single_state = ours(s.unsqueeze(1))
        torch.testing.assert_close(padded[: lengths[b], b], single_out[:, 0], atol=1e-12, rtol=1e-12)
        assert (padded[lengths[b]:, b] == 0).all()
        single_h = single_state[0] if kind == "LSTM" else single_state
        torch.testing.assert_close(h_n[:, b], single_h[:, 0], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_RNN_dropout(kind, impl):
    """test_nn.py ``test_RNN_dropout``: p = 0 and p = 1 are exact; with p = 1 the second layer sees zeros."""
    for p in (0.0, 1.0):
        ref, ours = twins(kind, impl, 10, 1000, 2, bias=False, dropout=p)
        for mod in (ref, ours):
            with torch.no_grad():
                for w in mod.parameters():
                    w.fill_(1)
        x = torch.ones(1, 1, 10)
        h = torch.zeros(2, 1, 1000)
        hx = (h, h) if kind == "LSTM" else h
        out_r, out_o = ref(x, hx)[0], ours(x, hx)[0]
        torch.testing.assert_close(out_o, out_r, atol=1e-5, rtol=1e-5)
        if p == 1.0 and kind == "RNN":
            assert (out_o == 0).all()            # tanh(W 0) with bias=False: zero


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_RNN_dropout_state(kind, impl):
    """test_nn.py ``test_RNN_dropout_state``: in training with 0 < p < 1 the result depends on the
    seed only; in eval mode dropout is off and our output equals torch's."""
    ref, ours = twins(kind, impl, 6, 8, 3, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 6, dtype=torch.float64)
    torch.manual_seed(11)
    a = ours(x)[0]
    torch.manual_seed(11)
    b = ours(x)[0]
    torch.manual_seed(12)
    c = ours(x)[0]
    assert torch.equal(a, b) and not torch.allclose(a, c)
    ref.eval(), ours.eval()
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("kind", list(TORCH))
def test_dropout_masks_match_torch_on_padded_input(kind):
    """On padded (not packed) input our dropout draws the very same masks as torch's CPU layer."""
    ref, ours = twins(kind, "fused", 6, 8, 3, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 6, dtype=torch.float64)
    torch.manual_seed(5)
    out_r = ref(x)[0]
    torch.manual_seed(5)
    out_o = ours(x)[0]
    torch.testing.assert_close(out_o, out_r, atol=1e-10, rtol=1e-10)


GRADGRAD = [(kind, layers, bidir, lengths) for kind in ("RNN", "LSTM", "GRU")
            for layers, bidir in ((1, False), (1, True), (2, True)) for lengths in (False, True)]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind,layers,bidir,use_lengths", GRADGRAD,
                         ids=[f"{k}-L{n}-bi{int(b)}-len{int(u)}" for k, n, b, u in GRADGRAD])
def test_grad_and_gradgrad(kind, layers, bidir, use_lengths, impl):
    """test_nn.py ``test_*_grad_and_gradgrad``: gradcheck and gradgradcheck in float64, with every
    parameter, the input and the initial state as variables (fast mode: random directions; the exhaustive
    mode runs for one layer, one direction in :func:`test_gradgrad_exhaustive`)."""
    assert _gradgrad(kind, layers, bidir, use_lengths, impl, fast=True)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradgrad_exhaustive(kind, impl):
    assert _gradgrad(kind, 1, False, True, impl, fast=False)


def _gradgrad(kind, layers, bidir, use_lengths, impl, fast):
    torch.manual_seed(0)
    m = getattr(cnn, kind)(2, 3, layers, batch_first=True, bidirectional=bidir, dtype=torch.float64, impl=impl)
    D = 2 if bidir else 1
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(layers * D, 2, 3, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(layers * D, 2, 3, dtype=torch.float64, requires_grad=True)
    params = list(m.parameters())
    names = [n for n, _ in m.named_parameters()]
    lengths = [3, 1] if use_lengths else None

    def f(x, h0, c0, *ps):
        state = {n: p for n, p in zip(names, ps)}
        hx = (h0, c0) if kind == "LSTM" else h0
        out, st = torch.func.functional_call(m, state, (x, hx), {"lengths": lengths})
        return (out, *leaves(st))

    args = (x, h0, c0, *[p.detach().clone().requires_grad_() for p in params])
    return (torch.autograd.gradcheck(f, args, fast_mode=fast)
            and torch.autograd.gradgradcheck(f, args, fast_mode=fast))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_LSTM_projections(bidir, batch_first, impl):
    """test_nn.py's proj_size tests: shapes, values, gradients and packed input with projections."""
    ref, ours = twins("LSTM", impl, 4, 6, 2, proj_size=3, bidirectional=bidir, batch_first=batch_first,
                      dtype=torch.float64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    D = 2 if bidir else 1
    x = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2 * D, 5 if batch_first else 3, 3, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2 * D, 5 if batch_first else 3, 6, dtype=torch.float64, requires_grad=True)
    compare(ref, ours, [x, h0, c0], lambda mod: mod(x, (h0, c0)), 1e-10)
    seqs = [torch.randn(n, 4, dtype=torch.float64) for n in (4, 2, 1)]
    compare(ref, ours, [], lambda mod: mod(pack_sequence(seqs)), 1e-10)
    with pytest.raises(RuntimeError, match=r"\(2, 5, 3\)|\(4, 5, 3\)|\(2, 3, 3\)|\(4, 3, 3\)"):
        ours(x, (c0, c0))                          # h0 must be (L*D, B, proj_size)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_torch_func_grad(kind, impl):
    """``torch.func.grad`` over a functional call gives torch's gradients."""
    ref, ours = twins(kind, impl, 3, 4, batch_first=True, dtype=torch.float64)
    x = torch.randn(2, 5, 3, dtype=torch.float64)

    def loss(params, mod):
        return torch.func.functional_call(mod, params, (x,))[0].pow(2).sum()
    g_r = torch.func.grad(loss)(dict(ref.named_parameters()), ref)
    g_o = torch.func.grad(loss)(dict(ours.named_parameters()), ours)
    close([g_o[n] for n in g_r], list(g_r.values()), 1e-10)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", list(TORCH))
def test_cpu_autocast_bfloat16(kind, impl):
    """``torch.autocast("cpu", bfloat16)``: torch's output dtypes; RNN and GRU bit-equal to torch, the LSTM
    (oneDNN's fused kernel in torch) to bfloat16 rounding; gradients flow to float32 weights."""
    ref, ours = twins(kind, impl, 8, 16, 2, batch_first=True)
    x = torch.randn(4, 10, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_r, st_r = ref(x)
        out_o, st_o = ours(x)
    assert out_o.dtype == out_r.dtype and [s.dtype for s in leaves(st_o)] == [s.dtype for s in leaves(st_r)]
    tol = 3e-2 if kind == "LSTM" else 0.0
    close([t.float() for t in [out_o, *leaves(st_o)]], [t.float() for t in [out_r, *leaves(st_r)]], tol)
    for out in (out_r, out_o):
        out.float().pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in ours.parameters())
    if kind != "LSTM":
        close([p.grad for p in ours.parameters()], [p.grad for p in ref.parameters()], 0.0)


def test_two_processes_agree_bitwise():
    """``course_lib.seed`` makes a float32 run reproducible bit for bit across processes (no timing-based
    choice of kernels by default): a fused LSTM and GRU, forward and backward, on oneDNN-sized weights."""
    script = textwrap.dedent("""
        import hashlib, torch, course_lib
        from course_lib import nn as cnn
        course_lib.seed(3)
        h = hashlib.sha256()
        for kind in ("LSTM", "GRU", "RNN"):
            m = getattr(cnn, kind)(128, 128, batch_first=True)
            x = torch.randn(8, 20, 128, requires_grad=True)
            out = m(x)[0]
            out.pow(2).sum().backward()
            for t in [out, x.grad] + [p.grad for p in m.parameters()]:
                h.update(t.detach().numpy().tobytes())
        print(h.hexdigest())
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout == runs[1].stdout and len(runs[0].stdout.strip()) == 64


# ------------------------------------------------------------------ 4. the documented "not supported" rows
def test_torchscript_is_not_supported():
    with pytest.raises(Exception):       # torch.jit's own compile error: the docstring's table says so
        torch.jit.script(cnn.GRU(3, 4))


def test_dropout_on_packed_input_draws_other_masks_than_torch():
    """Documented: with 0 < p < 1 and a PackedSequence, torch draws dropout masks over the packed data and
    we over the padded tensor, so the two differ for the same seed (same distribution, not the same bits)."""
    ref, ours = twins("GRU", "fused", 6, 8, 2, dropout=0.5, dtype=torch.float64)
    packed = pack_sequence([torch.randn(n, 6, dtype=torch.float64) for n in (5, 3, 2)])
    torch.manual_seed(5)
    out_r = ref(packed)[0].data
    torch.manual_seed(5)
    out_o = ours(packed)[0].data
    assert out_r.shape == out_o.shape and not torch.allclose(out_r, out_o)
    ref.eval(), ours.eval()
    torch.testing.assert_close(ours(packed)[0].data, ref(packed)[0].data, atol=1e-10, rtol=1e-10)


def test_unsupported_table_is_in_the_docstring():
    doc = cnn.rnn.__doc__
    for row in ("double backward", "PackedSequence", "proj_size", "torch.func.grad", "torch.autocast",
                "dropout", "TorchScript", "not bit-equal"):
        assert row in doc, row
