"""Known wrong answers, at least two per graded task: each must score less than full marks.

``WRONG[task]`` is a list of ``(label, answer, fragment)``: ``answer`` is a wrong function (or a wrong
answer to a question) and ``fragment`` a piece of text the check's failure reasons must contain, so the
test also proves that the feedback names the right problem. The mistakes are the ones learners make:
a bias or a nonlinearity forgotten, gates in the wrong order, a transpose, an off-by-one in time, a
gradient not accumulated across steps, no clipping, the wrong scaling, synchronous Hopfield updates, a modern
Hopfield update that ignores beta, linear attention without its normaliser or with a non-causal state.
"""
import numpy as np


def sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


# --------------------------------------------------------------------------- 01_sequences
def _cell(x, h, W_ih, W_hh, b_ih, b_hh):
    h_next = np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
    return h_next, {"x": x, "h": h, "h_next": h_next, "W_ih": W_ih, "W_hh": W_hh}


def cell_no_b_hh(x, h, W_ih, W_hh, b_ih, b_hh):
    return _cell(x, h, W_ih, W_hh, b_ih, 0.0 * b_hh)


def cell_transposed_W_hh(x, h, W_ih, W_hh, b_ih, b_hh):
    return _cell(x, h, W_ih, W_hh.T, b_ih, b_hh)


def cell_relu(x, h, W_ih, W_hh, b_ih, b_hh):
    h_next = np.maximum(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 0.0)
    return h_next, {"x": x, "h": h, "h_next": h_next, "W_ih": W_ih, "W_hh": W_hh}


def cell_returns_h_only(x, h, W_ih, W_hh, b_ih, b_hh):
    return _cell(x, h, W_ih, W_hh, b_ih, b_hh)[0]


def seq_off_by_one(x, h0, W_ih, W_hh, b_ih, b_hh):
    """Stores the state *before* each step: out[:, t] = h_{t-1}."""
    out, h = np.empty((x.shape[0], x.shape[1], h0.shape[1])), h0
    for t in range(x.shape[1]):
        out[:, t] = h
        h, _ = _cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)
    return out


def seq_ignores_h0(x, h0, W_ih, W_hh, b_ih, b_hh):
    out, h = np.empty((x.shape[0], x.shape[1], h0.shape[1])), np.zeros_like(h0)
    for t in range(x.shape[1]):
        h, _ = _cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)
        out[:, t] = h
    return out


def seq_time_major(x, h0, W_ih, W_hh, b_ih, b_hh):
    return np.swapaxes(seq_ignores_h0(x, h0, W_ih, W_hh, b_ih, b_hh), 0, 1)


# --------------------------------------------------------------------------- 02_hopfield_elman
def store_keeps_diagonal(patterns):
    return patterns.T @ patterns / patterns.shape[1]


def store_without_1_over_n(patterns):
    W = patterns.T @ patterns
    np.fill_diagonal(W, 0.0)
    return W


def store_pattern_gram(patterns):
    return patterns @ patterns.T / patterns.shape[1]


def recall_synchronous(W, state, max_sweeps=100, rng=None):
    s = np.array(state, dtype=float)
    for _ in range(max_sweeps):
        field = W @ s
        new = np.where(field == 0, s, np.sign(field))
        if np.array_equal(new, s):
            break
        s = new
    return s


def recall_np_sign(W, state, max_sweeps=100, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    s = np.array(state, dtype=float)
    for _ in range(max_sweeps):
        for i in rng.permutation(len(s)):
            s[i] = np.sign(W[i] @ s)
    return s


def recall_one_sweep(W, state, max_sweeps=100, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    s = np.array(state, dtype=float)
    for i in rng.permutation(len(s)):
        field = W[i] @ s
        s[i] = s[i] if field == 0 else np.sign(field)
    return s


# --------------------------------------------------------------------------- 03_bptt
def _cell_backward(dh_next, cache, tanh_prime=True):
    da = dh_next * (1.0 - cache["h_next"] ** 2) if tanh_prime else dh_next
    db = da.sum(axis=0)
    return da @ cache["W_ih"], da @ cache["W_hh"], da.T @ cache["x"], da.T @ cache["h"], db, db.copy()


def backward_no_tanh_derivative(dh_next, cache):
    return _cell_backward(dh_next, cache, tanh_prime=False)


def backward_dW_hh_transposed(dh_next, cache):
    dx, dh, dW_ih, dW_hh, db_ih, db_hh = _cell_backward(dh_next, cache)
    return dx, dh, dW_ih, dW_hh.T, db_ih, db_hh


def backward_bias_summed_over_hidden(dh_next, cache):
    dx, dh, dW_ih, dW_hh, _, _ = _cell_backward(dh_next, cache)
    da = dh_next * (1.0 - cache["h_next"] ** 2)
    return dx, dh, dW_ih, dW_hh, da.sum(axis=1), da.sum(axis=1)


def _bptt(d_out, x, h0, W_ih, W_hh, b_ih, b_hh, accumulate=True, carry=True, shift=0):
    caches, h = [], h0
    for t in range(x.shape[1]):
        h, cache = _cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)
        caches.append(cache)
    dx, dh = np.zeros_like(x), np.zeros_like(h0)
    grads = [np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b_ih), np.zeros_like(b_hh)]
    time = x.shape[1]
    for t in reversed(range(time)):
        upstream = d_out[:, min(t + shift, time - 1)] + (dh if carry else 0.0)
        dx[:, t], dh, *step = _cell_backward(upstream, caches[t])
        grads = [g + s for g, s in zip(grads, step)] if accumulate else step
    return (dx, dh, *grads)


def bptt_not_accumulated(d_out, x, h0, W_ih, W_hh, b_ih, b_hh):
    return _bptt(d_out, x, h0, W_ih, W_hh, b_ih, b_hh, accumulate=False)


def bptt_dh_not_carried(d_out, x, h0, W_ih, W_hh, b_ih, b_hh):
    return _bptt(d_out, x, h0, W_ih, W_hh, b_ih, b_hh, carry=False)


def bptt_off_by_one(d_out, x, h0, W_ih, W_hh, b_ih, b_hh):
    """Injects the loss gradient of step t+1 at step t."""
    return _bptt(d_out, x, h0, W_ih, W_hh, b_ih, b_hh, shift=1)


# --------------------------------------------------------------------------- 04_gradients
def _norm(grads):
    return float(np.sqrt(sum(np.sum(g * g) for g in grads)))


def clip_none(grads, max_norm):
    return list(grads), _norm(grads)


def clip_each_array(grads, max_norm):
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], _norm(grads)


def clip_elementwise(grads, max_norm):
    return [np.clip(g, -max_norm, max_norm) for g in grads], _norm(grads)


def clip_always_rescales(grads, max_norm):
    return [g * max_norm / _norm(grads) for g in grads], _norm(grads)


# --------------------------------------------------------------------------- 05_lstm
def _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, order=(0, 1, 2, 3), use_b_hh=True, tanh_c=True):
    H = h.shape[1]
    a = x @ W_ih.T + b_ih + h @ W_hh.T + (b_hh if use_b_hh else 0.0)
    blocks = [a[:, k * H:(k + 1) * H] for k in order]
    i, f, g, o = sigmoid(blocks[0]), sigmoid(blocks[1]), np.tanh(blocks[2]), sigmoid(blocks[3])
    c_next = f * c + i * g
    h_next = o * (np.tanh(c_next) if tanh_c else c_next)
    cache = {"x": x, "h": h, "c": c, "i": i, "f": f, "g": g, "o": o, "c_next": c_next, "W_ih": W_ih, "W_hh": W_hh}
    return (h_next, c_next), cache


def lstm_gates_i_f_swapped(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, order=(1, 0, 2, 3))


def lstm_no_b_hh(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, use_b_hh=False)


def lstm_no_tanh_on_c(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, tanh_c=False)


def _lstm_backward(d_next, cache, use_dc_next=True, times_f=True):
    dh_next, dc_next = d_next
    i, f, g, o, c = (cache[k] for k in "ifgoc")
    t = np.tanh(cache["c_next"])
    do = dh_next * t
    dc = (dc_next if use_dc_next else 0.0) + dh_next * o * (1.0 - t * t)
    da = np.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g), do * o * (1 - o)], axis=1)
    db = da.sum(axis=0)
    return (da @ cache["W_ih"], da @ cache["W_hh"], dc * f if times_f else dc,
            da.T @ cache["x"], da.T @ cache["h"], db, db.copy())


def lstm_backward_ignores_dc_next(d_next, cache):
    return _lstm_backward(d_next, cache, use_dc_next=False)


def lstm_backward_dc_without_f(d_next, cache):
    return _lstm_backward(d_next, cache, times_f=False)


# --------------------------------------------------------------------------- 06_gru
def _gru(x, h, W_ih, W_hh, b_ih, b_hh, cho=False, z_swapped=False, rz_swapped=False):
    H = h.shape[1]
    xp, hp = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
    r_k, z_k = (1, 0) if rz_swapped else (0, 1)
    r = sigmoid(xp[:, r_k * H:(r_k + 1) * H] + hp[:, r_k * H:(r_k + 1) * H])
    z = sigmoid(xp[:, z_k * H:(z_k + 1) * H] + hp[:, z_k * H:(z_k + 1) * H])
    if cho:  # Cho et al. 2014: r multiplies h before W_hn
        n = np.tanh(xp[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
    else:
        n = np.tanh(xp[:, 2 * H:] + r * hp[:, 2 * H:])
    return z * n + (1 - z) * h if z_swapped else (1 - z) * n + z * h


def gru_cho_formulation(x, h, W_ih, W_hh, b_ih, b_hh):
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh, cho=True)


def gru_z_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh, z_swapped=True)


def gru_r_z_order_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh, rz_swapped=True)


def _lstm_layer(x, h0, c0, W_ih, W_hh, b_ih, b_hh, zero_c0=False, out_c=False):
    h, c = h0, (np.zeros_like(c0) if zero_c0 else c0)
    out, caches = np.empty((x.shape[0], x.shape[1], h0.shape[1])), []
    for t in range(x.shape[1]):
        (h, c), cache = _lstm(x[:, t], h, c, W_ih, W_hh, b_ih, b_hh)
        caches.append(cache)
        out[:, t] = c if out_c else h
    return out, (h, c), caches


def lstm_layer_ignores_c0(x, h0, c0, W_ih, W_hh, b_ih, b_hh):
    return _lstm_layer(x, h0, c0, W_ih, W_hh, b_ih, b_hh, zero_c0=True)[:2]


def lstm_layer_outputs_c(x, h0, c0, W_ih, W_hh, b_ih, b_hh):
    return _lstm_layer(x, h0, c0, W_ih, W_hh, b_ih, b_hh, out_c=True)[:2]


def _lstm_bptt(d_out, d_final, x, h0, c0, W_ih, W_hh, b_ih, b_hh, use_final=True, carry_dc=True):
    _, _, caches = _lstm_layer(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
    dx, dW_ih, dW_hh, db = np.zeros_like(x), np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b_ih)
    dh, dc = d_final if use_final else (np.zeros_like(h0), np.zeros_like(c0))
    for t in reversed(range(x.shape[1])):
        dx[:, t], dh, dc, a, b, c, _ = _lstm_backward((dh + d_out[:, t], dc), caches[t])
        dc = dc if carry_dc else np.zeros_like(dc)
        dW_ih, dW_hh, db = dW_ih + a, dW_hh + b, db + c
    return dx, dh, dc, dW_ih, dW_hh, db, db.copy()


def lstm_bptt_ignores_final_state(*args):
    return _lstm_bptt(*args, use_final=False)


def lstm_bptt_drops_the_cell_gradient(*args):
    return _lstm_bptt(*args, carry_dc=False)


def gru_layer_ignores_h0(x, h0, W_ih, W_hh, b_ih, b_hh):
    h, out = np.zeros_like(h0), np.empty((x.shape[0], x.shape[1], h0.shape[1]))
    for t in range(x.shape[1]):
        h = _gru(x[:, t], h, W_ih, W_hh, b_ih, b_hh)
        out[:, t] = h
    return out, h


def gru_layer_cho(x, h0, W_ih, W_hh, b_ih, b_hh):
    h, out = h0, np.empty((x.shape[0], x.shape[1], h0.shape[1]))
    for t in range(x.shape[1]):
        h = _gru(x[:, t], h, W_ih, W_hh, b_ih, b_hh, cho=True)
        out[:, t] = h
    return out, h


def _gru_bptt(d_out, dh_n, x, h0, W_ih, W_hh, b_ih, b_hh, r_on_b_hn=True, use_final=True):
    H = h0.shape[1]
    h, steps = h0, []
    for t in range(x.shape[1]):
        xp, hp = x[:, t] @ W_ih.T + b_ih, h @ W_hh.T + b_hh
        r, z = sigmoid(xp[:, :H] + hp[:, :H]), sigmoid(xp[:, H:2 * H] + hp[:, H:2 * H])
        n = np.tanh(xp[:, 2 * H:] + r * hp[:, 2 * H:])
        steps.append((h, r, z, n, hp[:, 2 * H:]))
        h = (1 - z) * n + z * h
    dx, dW_ih, dW_hh = np.zeros_like(x), np.zeros_like(W_ih), np.zeros_like(W_hh)
    db_ih, db_hh = np.zeros_like(b_ih), np.zeros_like(b_hh)
    dh = dh_n if use_final else np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_prev, r, z, n, hn = steps[t]
        g = dh + d_out[:, t]
        dn, dz = g * (1 - z) * (1 - n ** 2), g * (h_prev - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        dxp = np.concatenate([dr, dz, dn], axis=1)
        dhp = np.concatenate([dr, dz, dn * r], axis=1)
        dx[:, t] = dxp @ W_ih
        dW_ih += dxp.T @ x[:, t]
        dW_hh += dhp.T @ h_prev
        db_ih += dxp.sum(axis=0)
        db_hh += (dhp if r_on_b_hn else dxp).sum(axis=0)
        dh = g * z + dhp @ W_hh
    return dx, dh, dW_ih, dW_hh, db_ih, db_hh


def gru_bptt_b_hn_like_b_in(*args):
    return _gru_bptt(*args, r_on_b_hn=False)


def gru_bptt_ignores_dh_n(*args):
    return _gru_bptt(*args, use_final=False)


# --------------------------------------------------------------------------- 07_bidirectional_deep
def _birnn(x, lengths, params, reverse_from_end=False, zero_padding=True, halves_swapped=False):
    step = lambda x_t, h, W_ih, W_hh, b_ih, b_hh: np.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
    fwd = [params[k + "_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    bwd = [params[k + "_l0_reverse"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    batch, time, _ = x.shape
    H = fwd[1].shape[1]
    out, h_n = np.zeros((batch, time, 2 * H)), np.zeros((2, batch, H))
    for b in range(batch):
        h = np.zeros((1, H))
        for t in range(lengths[b]):
            h = step(x[b:b + 1, t], h, *fwd)
            out[b, t, :H] = h[0]
        h_n[0, b] = h[0]
        h = np.zeros((1, H))
        for t in reversed(range(time if reverse_from_end else lengths[b])):
            h = step(x[b:b + 1, t], h, *bwd)
            out[b, t, H:] = h[0]
        h_n[1, b] = h[0]
        if zero_padding:
            out[b, lengths[b]:] = 0.0
    if halves_swapped:
        out = np.concatenate([out[..., H:], out[..., :H]], axis=-1)
    return out, h_n


def birnn_reverse_starts_at_padding(x, lengths, params):
    return _birnn(x, lengths, params, reverse_from_end=True)


def birnn_padding_not_zeroed(x, lengths, params):
    return _birnn(x, lengths, params, reverse_from_end=True, zero_padding=False)


def birnn_directions_swapped(x, lengths, params):
    return _birnn(x, lengths, params, halves_swapped=True)


# --------------------------------------------------------------------------- 08_applications
def _sample(logits, temperature, rng, scale="divide", stable=True):
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits * temperature if scale == "multiply" else logits / temperature
    p = np.exp(z - z.max()) if stable else np.exp(z)
    return int(rng.choice(len(p), p=p / p.sum()))


def sample_multiplies_by_temperature(logits, temperature, rng):
    return _sample(logits, temperature, rng, scale="multiply")


def sample_always_argmax(logits, temperature, rng):
    return int(np.argmax(logits))


def sample_overflows(logits, temperature, rng):
    return _sample(logits, temperature, rng, stable=False)


def sample_global_random_state(logits, temperature, rng):
    return _sample(logits, temperature, np.random.default_rng())


# --------------------------------------------------------------------------- 10_transformers
def _sample_seq(model, start, length, temperature, rng, carry=True, feed_back=True, keep_start=False):
    state, token, out = model.initial_state(), int(start), [int(start)] if keep_start else []
    for _ in range(length):
        logits, new_state = model.step(token if feed_back else start, state)
        state = new_state if carry else model.initial_state()
        token = _sample(logits, temperature, rng) if temperature > 0 else int(np.argmax(logits))
        out.append(token)
    return np.array(out, dtype=np.int64)


def sequence_state_not_carried(model, start, length, temperature, rng):
    return _sample_seq(model, start, length, temperature, rng, carry=False)


def sequence_start_fed_every_step(model, start, length, temperature, rng):
    return _sample_seq(model, start, length, temperature, rng, feed_back=False)


def sequence_includes_start(model, start, length, temperature, rng):
    return _sample_seq(model, start, length, temperature, rng, keep_start=True)[:length]


def _count_lm(train_ids, vocab_size, order, as_probs=False):
    ids = np.asarray(train_ids)
    if order == 1:
        counts = np.bincount(ids, minlength=vocab_size) + 1.0
        table = np.log(counts / counts.sum())

        def predict(x_t, state):
            out = np.tile(table, (len(x_t), 1))
            return (np.exp(out) if as_probs else out), None
    else:
        counts = np.ones((vocab_size, vocab_size))
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
        table = np.log(counts / counts.sum(axis=1, keepdims=True))

        def predict(x_t, state):
            out = table[np.asarray(x_t)]
            return (np.exp(out) if as_probs else out), None
    return predict


def lm_unigram_counts(train_ids, vocab_size, seed):
    return _count_lm(train_ids, vocab_size, 1)


def lm_bigram_counts(train_ids, vocab_size, seed):
    return _count_lm(train_ids, vocab_size, 2)


def lm_returns_probabilities(train_ids, vocab_size, seed):
    return _count_lm(train_ids, vocab_size, 2, as_probs=True)


def classifier_bag_of_words(ids, lengths, labels, vocab_size, seed):
    """Logistic regression on word counts: order is lost."""
    def bags(x):
        x = np.asarray(x)
        b = np.zeros((len(x), vocab_size))
        np.add.at(b, (np.repeat(np.arange(len(x)), x.shape[1]), x.ravel()), 1.0)
        b[:, 0] = 1.0
        return b
    X, y = bags(ids), np.asarray(labels, dtype=float)
    w = np.zeros(vocab_size)
    for _ in range(300):
        p = 1.0 / (1.0 + np.exp(-X @ w))
        w -= 0.5 * X.T @ (p - y) / len(y)
    return lambda new_ids, new_lengths: (bags(new_ids) @ w > 0).astype(np.int64)


def classifier_majority(ids, lengths, labels, vocab_size, seed):
    majority = int(np.mean(labels) >= 0.5)
    return lambda new_ids, new_lengths: np.full(len(new_ids), majority, dtype=np.int64)


def classifier_returns_probabilities(ids, lengths, labels, vocab_size, seed):
    return lambda new_ids, new_lengths: np.full(len(new_ids), 0.5)


def _attention(q, k, v, mask=None, scale="sqrt", use_mask=True, axis=-1, stable=True):
    d = q.shape[-1]
    divisor = {"sqrt": np.sqrt(d), "none": 1.0, "d": float(d)}[scale]
    s = q @ np.swapaxes(k, -1, -2) / divisor
    if mask is not None and use_mask:
        s = np.where(mask, s, -np.inf)
    if stable:
        s = s - s.max(axis=axis, keepdims=True)
    w = np.exp(s)
    w = w / w.sum(axis=axis, keepdims=True)
    return w @ v, w


def attention_unscaled(q, k, v, mask=None):
    return _attention(q, k, v, mask, scale="none")


def attention_scaled_by_d(q, k, v, mask=None):
    return _attention(q, k, v, mask, scale="d")


def attention_mask_ignored(q, k, v, mask=None):
    return _attention(q, k, v, mask, use_mask=False)


def attention_softmax_over_queries(q, k, v, mask=None):
    return _attention(q, k, v, mask, axis=-2)


# --------------------------------------------------------------------------- 11_modern_rnns
def _mha(x, in_w, in_b, out_w, out_b, n_heads, causal=False, split="transpose", scale="sqrt", use_causal=True,
         out_proj=True):
    batch, time, d = x.shape
    q, k, v = np.split(x @ in_w.T + in_b, 3, axis=-1)

    def heads(a):
        if split == "reshape":                      # (batch, heads, time, dh) straight from the memory layout
            return a.reshape(batch, n_heads, time, d // n_heads)
        return a.reshape(batch, time, n_heads, d // n_heads).transpose(0, 2, 1, 3)

    mask = np.tril(np.ones((time, time), dtype=bool)) if causal and use_causal else None
    qh = heads(q) * (np.sqrt(d // n_heads) / np.sqrt(d) if scale == "d_model" else 1.0)
    out, w = _attention(qh, heads(k), heads(v), mask)
    out = (out.reshape(batch, time, d) if split == "reshape" else out.transpose(0, 2, 1, 3).reshape(batch, time, d))
    return (out @ out_w.T + out_b if out_proj else out), w


def mha_heads_not_transposed(*args):
    return _mha(*args, split="reshape")


def mha_scaled_by_d_model(*args):
    return _mha(*args, scale="d_model")


def mha_causal_ignored(*args):
    return _mha(*args, use_causal=False)


def mha_no_output_projection(*args):
    return _mha(*args, out_proj=False)


def pe_sin_cos_swapped(length, d_model):
    pos, i = np.arange(length)[:, None], np.arange(0, d_model, 2)
    pe = np.zeros((length, d_model))
    pe[:, 0::2] = np.cos(pos / 10000 ** (i / d_model))
    pe[:, 1::2] = np.sin(pos / 10000 ** (i[: d_model // 2] / d_model))
    return pe


def pe_exponent_i_not_2i(length, d_model):
    pos, i = np.arange(length)[:, None], np.arange(0, d_model, 2) // 2
    pe = np.zeros((length, d_model))
    pe[:, 0::2] = np.sin(pos / 10000 ** (i / d_model))
    pe[:, 1::2] = np.cos(pos / 10000 ** (i[: d_model // 2] / d_model))
    return pe


def ln_unbiased_variance(x, weight, bias, eps):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, ddof=1, keepdims=True) + eps) * weight + bias


def ln_eps_outside_sqrt(x, weight, bias, eps):
    return (x - x.mean(-1, keepdims=True)) / (np.sqrt(x.var(-1, keepdims=True)) + eps) * weight + bias


def ln_over_the_batch(x, weight, bias, eps):
    return (x - x.mean(0, keepdims=True)) / np.sqrt(x.var(0, keepdims=True) + eps) * weight + bias


def _lm_loss(x, h0, targets, mask, params, use_mask=True, scale_grad=True, through_rnn=True):
    W_ih, W_hh, b_ih, b_hh, W_out, b_out = (params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh", "W_out", "b_out"))
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        hs.append(h)
    hs = np.stack(hs, 1)
    logp = _log_softmax(hs @ W_out.T + b_out)
    m = mask.astype(float) if use_mask else np.ones(mask.shape)
    weight = m / m.sum() if scale_grad else m
    loss = float(-(np.take_along_axis(logp, targets[..., None], -1)[..., 0] * m).sum() / m.sum())
    dz = (np.exp(logp) - np.eye(logp.shape[-1])[targets]) * weight[..., None]
    dhs = dz @ W_out
    grads = {"W_out": np.einsum("btv,bth->vh", dz, hs), "b_out": dz.sum((0, 1))}
    dW_ih, dW_hh, db_ih, db_hh = (np.zeros_like(p) for p in (W_ih, W_hh, b_ih, b_hh))
    dx, dh = np.zeros_like(x), np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        da = (dhs[:, t] + (dh if through_rnn else 0.0)) * (1 - hs[:, t] ** 2)
        h_prev = hs[:, t - 1] if t > 0 else h0
        dW_ih += da.T @ x[:, t]
        dW_hh += da.T @ h_prev
        db_ih += da.sum(0)
        db_hh += da.sum(0)
        dx[:, t] = da @ W_ih
        dh = da @ W_hh
    grads.update(W_ih=dW_ih, W_hh=dW_hh, b_ih=db_ih, b_hh=db_hh, x=dx, h0=dh)
    return loss, grads


def lm_loss_mask_ignored(*args):
    return _lm_loss(*args, use_mask=False)


def lm_loss_gradient_not_averaged(*args):
    return _lm_loss(*args, scale_grad=False)


def lm_loss_no_gradient_through_time(*args):
    return _lm_loss(*args, through_rnn=False)


def affine_no_bias(x, W, b):
    return x @ W.T


def affine_last_step_only(x, W, b):
    return np.broadcast_to((x[:, -1] @ W.T + b)[:, None], x.shape[:2] + (W.shape[0],)).copy()


def affine_backward_last_step(d_out, x, W):
    return d_out @ W, d_out[:, -1].T @ x[:, -1], d_out.sum(axis=(0, 1))


def affine_backward_db_per_step(d_out, x, W):
    return d_out @ W, np.einsum("bto,bti->oi", d_out, x), d_out.sum(axis=0)


def _loop(a, b, h0):
    h, out = h0, np.empty_like(b)
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


def _scan(a, b, h0):
    A, B, offset = a.copy(), b.copy(), 1
    while offset < a.shape[1]:
        A_prev, B_prev = A[:, :-offset], B[:, :-offset]
        A, B = A.copy(), B.copy()
        B[:, offset:] = A[:, offset:] * B_prev + B[:, offset:]
        A[:, offset:] = A[:, offset:] * A_prev
        offset *= 2
    return A * h0[:, None] + B


def loop_ignores_h0(a, b, h0):
    return _loop(a, b, np.zeros_like(h0))


def loop_off_by_one(a, b, h0):
    """out[:, t] holds h_{t-1}."""
    return np.concatenate([h0[:, None], _loop(a, b, h0)[:, :-1]], axis=1)


def scan_is_a_loop(a, b, h0):
    return _loop(a, b, h0)


def scan_divides_by_products(a, b, h0):
    """h_t = A_t (h0 + sum_s b_s / A_s): no loop, but A_t underflows on long sequences."""
    A = np.cumprod(a, axis=1)
    return A * (h0[:, None] + np.cumsum(b / A, axis=1))


def scan_wrong_combine(a, b, h0):
    """Combines (a1, b1) then (a2, b2) into (a1 a2, a1 b2 + b1): the order of composition reversed."""
    A, B, offset = a.copy(), b.copy(), 1
    while offset < a.shape[1]:
        A_prev, B_prev = A[:, :-offset], B[:, :-offset]
        A, B = A.copy(), B.copy()
        B[:, offset:] = A_prev * B[:, offset:] + B_prev
        A[:, offset:] = A[:, offset:] * A_prev
        offset *= 2
    return A * h0[:, None] + B


# --------------------------------------------------------------------------- 09_seq2seq_attention
def embedding_wrong_axis(ids, W):
    """Looks up columns instead of rows."""
    return np.moveaxis(W[:, ids % W.shape[1]], 0, -1)


def embedding_off_by_one(ids, W):
    return W[(ids + 1) % W.shape[0]]


def embedding_backward_overwrites(d_out, ids, vocab_size):
    """dW[ids] += d_out: a repeated id keeps only one of its gradients."""
    dW = np.zeros((vocab_size, d_out.shape[-1]))
    dW[ids.reshape(-1)] += d_out.reshape(-1, d_out.shape[-1])
    return dW


def embedding_backward_transposed(d_out, ids, vocab_size):
    dW = np.zeros((vocab_size, d_out.shape[-1]))
    np.add.at(dW, ids.reshape(-1), d_out.reshape(-1, d_out.shape[-1]))
    return dW.T


def _tsl(logits, targets, mask, use_mask=True, per_batch=False, mask_grad=True, stable=True):
    z = logits - logits.max(axis=-1, keepdims=True) if stable else logits
    with np.errstate(all="ignore"):
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    m = mask if use_mask else np.ones_like(mask)
    count = logits.shape[0] if per_batch else m.sum()
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    d = np.exp(logp)
    np.put_along_axis(d, targets[..., None], np.take_along_axis(d, targets[..., None], axis=-1) - 1, axis=-1)
    d = d * (m[..., None] if mask_grad else 1.0) / count
    return float((nll * m).sum() / count), d


def loss_mask_ignored(logits, targets, mask):
    return _tsl(logits, targets, mask, use_mask=False)


def loss_divides_by_batch(logits, targets, mask):
    """The mean over sequences (CS231n's convention), not over real tokens."""
    return _tsl(logits, targets, mask, per_batch=True)


def loss_gradient_not_masked(logits, targets, mask):
    return _tsl(logits, targets, mask, mask_grad=False)


def loss_overflows(logits, targets, mask):
    return _tsl(logits, targets, mask, stable=False)


def _additive(query, keys, W_q, W_k, v, mask=None, axis=-1, use_mask=True, tanh=True):
    pre = (query @ W_q.T)[:, None, :] + keys @ W_k.T
    scores = (np.tanh(pre) if tanh else pre) @ v
    if mask is not None and use_mask:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=axis, keepdims=True)
    w = np.exp(scores)
    w = w / w.sum(axis=axis, keepdims=True)
    return np.einsum("bs,bsd->bd", w, keys), w


def additive_softmax_over_batch(query, keys, W_q, W_k, v, mask=None):
    return _additive(query, keys, W_q, W_k, v, mask, axis=0)


def additive_mask_ignored(query, keys, W_q, W_k, v, mask=None):
    return _additive(query, keys, W_q, W_k, v, mask, use_mask=False)


def additive_no_tanh(query, keys, W_q, W_k, v, mask=None):
    return _additive(query, keys, W_q, W_k, v, mask, tanh=False)


def _beam(step, bos, eos, beam_width, max_len, alpha, normalise=True, eos_stops=True):
    live, finished = [((bos,), 0.0)], []
    for _ in range(max_len):
        candidates = []
        for prefix, score in live:
            logp = step(prefix)
            candidates += [(prefix + (tok,), score + float(logp[tok])) for tok in range(len(logp))]
        candidates = sorted(candidates, key=lambda c: -c[1])[:beam_width]
        if eos_stops:
            live = [c for c in candidates if c[0][-1] != eos]
            finished += [c for c in candidates if c[0][-1] == eos]
        else:
            live = candidates
        if not live:
            break
    pool = finished + live
    best = max(pool, key=lambda c: c[1] / (len(c[0]) - 1) ** (alpha if normalise else 0.0))
    return best[0][1:], best[1]


def beam_no_length_normalisation(step, bos, eos, beam_width, max_len, alpha):
    return _beam(step, bos, eos, beam_width, max_len, alpha, normalise=False)


def beam_eos_does_not_stop(step, bos, eos, beam_width, max_len, alpha):
    """Hypotheses ending in <eos> stay in the beam and are extended further."""
    return _beam(step, bos, eos, beam_width, max_len, alpha, eos_stops=False)


def beam_is_greedy(step, bos, eos, beam_width, max_len, alpha):
    return _beam(step, bos, eos, 1, max_len, alpha)
# --------------------------------------------------------------------------- 02: the modern Hopfield update
def _softmax(z, stable=True):
    e = np.exp(z - z.max()) if stable else np.exp(z)
    return e / e.sum()


def modern_beta_ignored(patterns, state, beta):
    return _softmax(patterns @ state) @ patterns


def modern_no_max_subtracted(patterns, state, beta):
    return _softmax(beta * (patterns @ state), stable=False) @ patterns


def modern_returns_weights(patterns, state, beta):
    return _softmax(beta * (patterns @ state))


def modern_classical_sign(patterns, state, beta):
    """The classical network's rule instead: sign of the Hebbian field."""
    return np.sign(patterns.T @ (patterns @ state))


# --------------------------------------------------------------------------- 10: linear attention as an RNN
def _phi(x):
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def _linattn(q, k, v, normalise=True, causal=True, read_before_write=False, feature_map=True):
    f = _phi if feature_map else (lambda x: x)
    batch, time, d = q.shape
    fq_all, fk_all = f(q), f(k)
    S_all = np.einsum("btd,bte->bde", fk_all, v)                 # the state after the whole sequence
    z_all = fk_all.sum(axis=1)
    S, z = np.zeros((batch, d, v.shape[-1])), np.zeros((batch, d))
    out = np.empty((batch, time, v.shape[-1]))
    for t in range(time):
        fq, fk = fq_all[:, t], fk_all[:, t]
        if read_before_write and t > 0:
            S_read, z_read = S, z
        S = S + fk[:, :, None] * v[:, t, None, :]
        z = z + fk
        if not (read_before_write and t > 0):
            S_read, z_read = S, z
        if not causal:
            S_read, z_read = S_all, z_all
        num = np.einsum("bd,bde->be", fq, S_read)
        out[:, t] = num / np.sum(fq * z_read, axis=1, keepdims=True) if normalise else num
    return out


def linattn_no_normaliser(q, k, v):
    return _linattn(q, k, v, normalise=False)


def linattn_non_causal_state(q, k, v):
    return _linattn(q, k, v, causal=False)


def linattn_reads_before_writing(q, k, v):
    """out_t from S_{t-1}: the current key/value is added only after the read-out."""
    return _linattn(q, k, v, read_before_write=True)


def linattn_no_feature_map(q, k, v):
    return _linattn(q, k, v, feature_map=False)


# --------------------------------------------------------------------------- the catalogue
WRONG = {
    "rnn_cell_forward": [
        ("b_hh missing", cell_no_b_hh, "wrong values"),
        ("W_hh transposed", cell_transposed_W_hh, "h_next: wrong values"),
        ("relu instead of tanh", cell_relu, "wrong values"),
        ("returns h_next alone", cell_returns_h_only, "must return a tuple (h_next, cache)"),
    ],
    "rnn_forward": [
        ("off by one in time", seq_off_by_one, "wrong values"),
        ("h0 ignored", seq_ignores_h0, "with a random h0"),
        ("time-major output", seq_time_major, "wrong shape"),
    ],
    "rnn_types": [("one-to-many", "b", "not the right answer"), ("no answer", None, "no answer given"),
                  ("not a letter", 3, "expected a letter")],
    "hopfield_store": [
        ("diagonal kept", store_keeps_diagonal, "diagonal must be 0"),
        ("no 1/N", store_without_1_over_n, "W: wrong values"),
        ("pattern Gram matrix", store_pattern_gram, "wrong shape"),
    ],
    "hopfield_recall": [
        ("synchronous updates", recall_synchronous, "not a fixed point"),
        ("np.sign without ties", recall_np_sign, "only -1 and +1"),
        ("a single sweep", recall_one_sweep, "not a fixed point"),
    ],
    "hopfield_capacity": [("the ratio instead of a count", 0.138, "is not accepted"), ("N itself", 1000, "is not accepted")],
    "modern_hopfield_update": [
        ("beta ignored", modern_beta_ignored, "(beta = 0.02): wrong values"),
        ("no max subtracted", modern_no_max_subtracted, "NaN or inf"),
        ("returns the weights", modern_returns_weights, "wrong shape"),
        ("the classical sign rule", modern_classical_sign, "wrong values"),
    ],
    "rnn_cell_backward": [
        ("tanh derivative missing", backward_no_tanh_derivative, "wrong gradient"),
        ("dW_hh transposed", backward_dW_hh_transposed, "dW_hh: wrong gradient"),
        ("bias gradient summed over hidden", backward_bias_summed_over_hidden, "db_ih: wrong shape"),
    ],
    "rnn_backward": [
        ("weight gradients not accumulated", bptt_not_accumulated, "dW_ih (time = "),
        ("dh not carried back", bptt_dh_not_carried, "wrong gradient"),
        ("off by one in time", bptt_off_by_one, "wrong gradient"),
    ],
    "truncated_bptt": [("exact gradient", "a", "not the right answer"), ("resets the state", "d", "not the right answer")],
    "clip_grad_norm": [
        ("no clipping", clip_none, "together above"),
        ("each array clipped alone", clip_each_array, "together above"),
        ("elementwise clipping", clip_elementwise, "wrong values"),
        ("always rescales", clip_always_rescales, "below max_norm: unchanged"),
    ],
    "spectral_radius": [("the spectral radius alone", 0.9 ** 50, "is not accepted"),
                        ("the bound ||W||^50", float(np.linalg.norm([[0.9, 0.5], [0.0, 0.9]], 2)) ** 50, "is not accepted")],
    "lstm_cell_forward": [
        ("gates i and f swapped", lstm_gates_i_f_swapped, "c_next: wrong values"),
        ("b_hh missing", lstm_no_b_hh, "wrong values"),
        ("h = o * c without tanh", lstm_no_tanh_on_c, "h_next: wrong values"),
    ],
    "lstm_cell_backward": [
        ("dc_next ignored", lstm_backward_ignores_dc_next, "(with dc_next != 0)"),
        ("dc without the forget gate", lstm_backward_dc_without_f, "dc (with dc_next = 0)"),
    ],
    "gru_cell_forward": [
        ("Cho et al.'s formulation", gru_cho_formulation, "wrong values"),
        ("z and 1 - z swapped", gru_z_swapped, "wrong values"),
        ("r and z blocks swapped", gru_r_z_order_swapped, "wrong values"),
    ],
    "gru_parameters": [("one bias only", 1800, "is not accepted"), ("an LSTM's count", 2560, "is not accepted")],
    "lstm_forward": [
        ("c0 ignored", lstm_layer_ignores_c0, "out (random initial state): wrong values"),
        ("out holds the cell state", lstm_layer_outputs_c, "out (zero initial state): wrong values"),
    ],
    "lstm_backward": [
        ("the final state's gradient ignored", lstm_bptt_ignores_final_state, "gradient from the final state only"),
        ("dc not carried to the previous step", lstm_bptt_drops_the_cell_gradient, "wrong gradient"),
    ],
    "gru_forward": [
        ("h0 ignored", gru_layer_ignores_h0, "out (random initial state): wrong values"),
        ("Cho et al.'s cell", gru_layer_cho, "wrong values"),
    ],
    "gru_backward": [
        ("db_hn computed like db_in", gru_bptt_b_hn_like_b_in, "db_hh"),
        ("dh_n ignored", gru_bptt_ignores_dh_n, "gradient from the final state only"),
    ],
    "birnn_forward": [
        ("reverse direction starts in the padding", birnn_reverse_starts_at_padding, "reverse direction"),
        ("padding not zeroed", birnn_padding_not_zeroed, "must be 0 past each sequence's length"),
        ("directions swapped", birnn_directions_swapped, "forward direction"),
    ],
    "sample_with_temperature": [
        ("logits * temperature", sample_multiplies_by_temperature, "temperature 0.5"),
        ("always argmax", sample_always_argmax, "temperature 1"),
        ("no max subtracted", sample_overflows, "Probabilities contain NaN"),
        ("np.random instead of rng", sample_global_random_state, "generators of the same seed"),
    ],
    "temporal_affine_forward": [
        ("bias missing", affine_no_bias, "out: wrong values"),
        ("the last step only", affine_last_step_only, "out: wrong values"),
    ],
    "temporal_affine_backward": [
        ("dW from the last step only", affine_backward_last_step, "dW: wrong gradient"),
        ("db kept per step", affine_backward_db_per_step, "db: wrong shape"),
    ],
    "rnn_lm_loss": [
        ("mask ignored", lm_loss_mask_ignored, "average over the real tokens only"),
        ("gradient not divided by the token count", lm_loss_gradient_not_averaged, "grads['W_out'] (with padding)"),
        ("no gradient carried back through time", lm_loss_no_gradient_through_time, "(with padding): wrong gradient"),
    ],
    "multi_head_attention": [
        ("heads split without a transpose", mha_heads_not_transposed, "wrong values"),
        ("scaled by sqrt(d_model)", mha_scaled_by_d_model, "heads): wrong values"),
        ("causal mask ignored", mha_causal_ignored, "causal): wrong values"),
        ("no output projection", mha_no_output_projection, "out (1 head): wrong values"),
    ],
    "positional_encoding": [
        ("sin and cos swapped", pe_sin_cos_swapped, "wrong values"),
        ("exponent i / d instead of 2i / d", pe_exponent_i_not_2i, "wrong values"),
    ],
    "layer_norm": [
        ("unbiased variance", ln_unbiased_variance, "wrong values"),
        ("eps outside the square root", ln_eps_outside_sqrt, "eps = 0.01: wrong values"),
        ("normalised over the batch", ln_over_the_batch, "wrong values"),
    ],
    "sample_sequence": [
        ("state not carried", sequence_state_not_carried, "carry the state"),
        ("start token fed at every step", sequence_start_fed_every_step, "feed each generated token back"),
        ("start token included", sequence_includes_start, "greedy"),
    ],
    "train_char_lm": [
        ("unigram counts", lm_unigram_counts, "bits per character"),
        ("bigram counts", lm_bigram_counts, "bits per character"),
        ("probabilities instead of log-probabilities", lm_returns_probabilities, "log_softmax"),
    ],
    "train_classifier": [
        ("bag of words", classifier_bag_of_words, "held-out accuracy"),
        ("always the majority label", classifier_majority, "held-out accuracy"),
        ("probabilities instead of labels", classifier_returns_probabilities, "integer labels"),
    ],
    "attention": [
        ("no 1/sqrt(d)", attention_unscaled, "weights (no mask): wrong values"),
        ("divided by d", attention_scaled_by_d, "wrong values"),
        ("mask ignored", attention_mask_ignored, "weights must be exactly 0 where the mask is False"),
        ("softmax over the queries", attention_softmax_over_queries, "wrong values"),
    ],
    "linear_recurrence_loop": [
        ("h0 ignored", loop_ignores_h0, "with a random h0"),
        ("off by one in time", loop_off_by_one, "wrong values"),
    ],
    "linear_recurrence_scan": [
        ("a loop over time", scan_is_a_loop, "Python steps"),
        ("divides by products of a", scan_divides_by_products, "NaN or inf"),
        ("composition in the wrong order", scan_wrong_combine, "wrong values"),
    ],
    "embedding_forward": [
        ("columns instead of rows", embedding_wrong_axis, "wrong"),
        ("ids off by one", embedding_off_by_one, "wrong values"),
    ],
    "embedding_backward": [
        ("dW[ids] += d_out (repeats overwrite)", embedding_backward_overwrites, "with repeated ids: wrong gradient"),
        ("transposed", embedding_backward_transposed, "wrong shape"),
    ],
    "temporal_softmax_loss": [
        ("mask ignored", loss_mask_ignored, "average over the real tokens only"),
        ("divides by the batch, not the tokens", loss_divides_by_batch, "wrong value"),
        ("gradient not masked", loss_gradient_not_masked, "d_logits (batch, time, vocab) (with padding"),
        ("no max subtracted", loss_overflows, "subtract each row's maximum"),
    ],
    "additive_attention": [
        ("softmax over the batch", additive_softmax_over_batch, "wrong values"),
        ("mask ignored", additive_mask_ignored, "exactly 0 where the mask is False"),
        ("tanh forgotten", additive_no_tanh, "wrong values"),
    ],
    "beam_search": [
        ("no length normalisation", beam_no_length_normalisation, "alpha=1.0"),
        ("<eos> does not stop a beam", beam_eos_does_not_stop, "a different sequence"),
        ("always greedy", beam_is_greedy, "a different sequence"),
    ],
    "linear_attention_recurrent": [
        ("normaliser missing", linattn_no_normaliser, "dividing phi(q_t)^T S_t by the normaliser"),
        ("non-causal state", linattn_non_causal_state, "out_t changed when only inputs after t changed"),
        ("reads S_{t-1} before adding step t", linattn_reads_before_writing, "against the parallel form): wrong values"),
        ("no feature map", linattn_no_feature_map, "wrong values"),
    ],
}
