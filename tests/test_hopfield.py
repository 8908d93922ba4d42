"""course_lib.ref.hopfield: Hebbian storage, energy descent, recall, capacity, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.ref.hopfield import CapacityCurve, Hopfield, capacity_curve, corrupt, random_patterns


def hebb_by_loops(xi):
    """Hebbian weights written the slow, obvious way: W_ij = (1/N) sum_mu xi_i xi_j, W_ii = 0."""
    P, N = xi.shape
    W = np.zeros((N, N))
    for i in range(N):
        for j in range(N):
            if i != j:
                W[i, j] = sum(xi[mu, i] * xi[mu, j] for mu in range(P)) / N
    return W


def is_fixed_point(net, s):
    C = net.patterns.T @ net.patterns  # N * W in whole numbers: a zero field is exactly zero
    np.fill_diagonal(C, 0)
    h = C @ s
    return bool(np.all((h == 0) | (np.sign(h) == s)))


def test_hebbian_weights_symmetric_zero_diagonal():
    xi = random_patterns(4, 12, seed=1)
    net = Hopfield(12).store(xi)
    assert np.array_equal(net.weights, net.weights.T)
    assert np.all(np.diag(net.weights) == 0)
    np.testing.assert_allclose(net.weights, hebb_by_loops(xi), atol=1e-15)
    assert net.load == pytest.approx(4 / 12)


def test_store_replaces_previous_patterns():
    net = Hopfield(10).store(random_patterns(3, 10, seed=0))
    xi = random_patterns(2, 10, seed=5)
    net.store(xi)
    np.testing.assert_allclose(net.weights, hebb_by_loops(xi), atol=1e-15)
    assert net.patterns.shape == (2, 10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 40), p=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_energy_never_rises_under_async_updates(n, p, seed):
    rng = np.random.default_rng(seed)
    net = Hopfield(n).store(rng.choice([-1.0, 1.0], size=(p, n)))
    s0 = rng.choice([-1.0, 1.0], size=n)
    final, info = net.recall(s0, mode="async", seed=seed, return_info=True)
    e = info.energy
    assert e.shape == (1 + info.sweeps * n,)
    assert np.all(np.diff(e) <= 1e-12)
    # the trace is kept incrementally: check its ends against the energy computed from scratch
    assert e[0] == pytest.approx(net.energy(s0), abs=1e-12)
    assert e[-1] == pytest.approx(net.energy(final), abs=1e-9)
    # ... and its middle: after one sweep the trace must equal the energy of the one-sweep state
    one = net.recall(s0, max_sweeps=1, seed=seed)
    assert e[n] == pytest.approx(net.energy(one), abs=1e-9)
    if info.converged:
        assert is_fixed_point(net, final)


def test_sync_updates_can_cycle_where_async_settles():
    net = Hopfield(2).store([[1, 1]])  # W = [[0, .5], [.5, 0]]
    s, info = net.recall([1, -1], mode="sync", max_sweeps=7, return_info=True)
    assert not info.converged and info.sweeps == 7
    assert s.tolist() == [-1.0, 1.0]  # odd number of steps: the two units swapped
    s_async, info_async = net.recall([1, -1], mode="async", seed=0, return_info=True)
    assert info_async.converged and abs(s_async.sum()) == 2
    assert info_async.energy[-1] < info_async.energy[0]


def test_stored_patterns_are_fixed_points_at_low_load():
    xi = random_patterns(6, 200, seed=3)  # alpha = 0.03
    net = Hopfield(200).store(xi)
    out, info = net.recall(xi, max_sweeps=5, seed=0, return_info=True)
    np.testing.assert_array_equal(out, xi)
    assert info.sweeps == 1 and info.converged.all()
    np.testing.assert_allclose(np.diag(net.overlaps(xi)), 1.0)


def test_recall_from_ten_percent_corruption_at_low_load():
    xi = random_patterns(10, 200, seed=4)  # alpha = 0.05
    net = Hopfield(200).store(xi)
    cues = corrupt(xi, 0.10, seed=0)
    assert np.allclose(np.diag(net.overlaps(cues)), 0.8)
    out = net.recall(cues, seed=1)
    m = np.diag(net.overlaps(out))
    assert m.min() >= 0.95 and np.mean(m == 1.0) >= 0.9


def test_recall_fails_at_alpha_0_3():
    xi = random_patterns(60, 200, seed=5)  # alpha = 0.3, far above 0.138
    net = Hopfield(200).store(xi)
    out = net.recall(corrupt(xi, 0.10, seed=0), seed=1)
    m = np.diag(net.overlaps(out))
    assert m.mean() < 0.75 and np.mean(m >= 0.95) < 0.2


def test_sync_recall_of_stored_patterns_converges():
    xi = random_patterns(3, 100, seed=6)
    net = Hopfield(100).store(xi)
    out, info = net.recall(corrupt(xi, 0.1, seed=2), mode="sync", return_info=True)
    np.testing.assert_array_equal(out, xi)
    assert info.converged.all() and info.energy.shape == (info.sweeps + 1, 3)


def test_corrupt_flips_exactly_the_asked_fraction_per_row():
    xi = random_patterns(5, 50, seed=0)
    before = xi.copy()
    c = corrupt(xi, 0.2, seed=7)
    np.testing.assert_array_equal(xi, before)  # input untouched
    assert np.all((c != xi).sum(axis=1) == 10)
    assert len({tuple(np.flatnonzero(r)) for r in (c != xi)}) > 1  # rows get their own positions
    np.testing.assert_array_equal(c, corrupt(xi, 0.2, seed=7))
    assert not np.array_equal(c, corrupt(xi, 0.2, seed=8))
    assert np.array_equal(corrupt(xi[0], 0.0, seed=1), xi[0])


def test_recall_is_deterministic_per_seed():
    xi = random_patterns(30, 60, seed=1)  # overloaded: the path depends on the update order
    net = Hopfield(60).store(xi)
    s0 = random_patterns(8, 60, seed=2)
    a, ia = net.recall(s0, seed=3, return_info=True)
    b, ib = net.recall(s0, seed=3, return_info=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ia.energy, ib.energy)
    others = [net.recall(s0, seed=k) for k in range(4, 9)]
    assert any(not np.array_equal(a, o) for o in others)


def test_capacity_curve_breaks_down_between_low_and_high_load():
    curve = capacity_curve(100, [0.05, 0.1, 0.2, 0.3], trials=6, flip_fraction=0.0, seed=0)
    assert curve.n_patterns.tolist() == [5, 10, 20, 30]
    assert curve.recall[0] >= 0.95 and curve.recall[-1] <= 0.3
    assert curve.overlap[0] > 0.99 and curve.overlap[-1] < curve.overlap[0] - 0.2
    np.testing.assert_allclose(curve.bit_error, (1 - curve.overlap) / 2)
    assert np.all(curve.exact <= curve.recall)
    assert 0.1 < curve.breakdown(0.5) < 0.3
    again = capacity_curve(100, [0.05, 0.1, 0.2, 0.3], trials=6, flip_fraction=0.0, seed=0)
    np.testing.assert_array_equal(curve.overlap, again.overlap)


def test_breakdown_interpolates_linearly():
    c = CapacityCurve(n_units=10, alphas=np.array([0.1, 0.2, 0.3]), n_patterns=np.array([1, 2, 3]),
                      overlap=np.array([1.0, 0.9, 0.5]), recall=np.array([1.0, 0.8, 0.2]),
                      exact=np.array([1.0, 0.4, 0.0]), bit_error=np.zeros(3), flip_fraction=0.0,
                      success_overlap=0.95, trials=1)
    assert c.breakdown(0.5) == pytest.approx(0.25)
    assert c.breakdown(0.5, metric="exact") == pytest.approx(0.1 + 0.1 * 0.5 / 0.6)
    assert np.isnan(c.breakdown(0.1, metric="overlap"))
    with pytest.raises(ValueError, match="metric must be"):
        c.breakdown(0.5, metric="energy")


@pytest.mark.parametrize("call, exc, match", [
    (lambda: Hopfield(1), ValueError, r"n_units must be >= 2; got 1"),
    (lambda: Hopfield(2.5), TypeError, r"n_units must be an int; got float"),
    (lambda: Hopfield(4).store([1, -1, 1, -1]), ValueError, r"patterns must be \(P, 4\); got \(4,\)"),
    (lambda: Hopfield(4).store(np.ones((2, 5))), ValueError, r"patterns must be \(P, 4\); got \(2, 5\)"),
    (lambda: Hopfield(4).store([[0, 1, 1, 0]]), ValueError, r"only -1 and \+1; got the value\(s\) 0.*2 \* x - 1"),
    (lambda: Hopfield(4).store(np.ones((1, 4), dtype=bool)), TypeError, r"got booleans"),
    (lambda: Hopfield(4).energy(np.ones(3)), ValueError, r"state must be \(4,\) or \(batch, 4\); got \(3,\)"),
    (lambda: Hopfield(4).recall(np.ones(4), mode="parallel"), ValueError, r"mode must be 'async' or 'sync'; got 'parallel'"),
    (lambda: Hopfield(4).recall(np.ones(4), max_sweeps=0), ValueError, r"max_sweeps must be >= 1; got 0"),
    (lambda: Hopfield(4).recall(np.ones((2, 2, 4))), ValueError, r"got \(2, 2, 4\)"),
    (lambda: corrupt(np.ones(4), 1.5), ValueError, r"fraction must be in \[0, 1\]; got 1.5"),
    (lambda: corrupt(["a", "b"], 0.1), TypeError, r"pattern must be an array of -1/\+1 numbers"),
    (lambda: capacity_curve(50, [], trials=1), ValueError, r"alphas must be a non-empty"),
    (lambda: capacity_curve(50, [0.1], trials=0), ValueError, r"trials must be >= 1; got 0"),
])
def test_errors_name_expected_and_given(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_torch_tensor_is_refused_with_a_hint():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"detach\(\)\.cpu\(\)\.numpy\(\)"):
        Hopfield(3).energy(torch.ones(3))


def test_glyphs_are_stored_and_recalled_and_plots_draw():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.viz import hopfield as vh

    xi = vh.glyph_patterns("HOTX")
    assert xi.shape == (4, 100) and set(np.unique(xi)) == {-1.0, 1.0}
    net = Hopfield(100).store(xi)
    np.testing.assert_array_equal(net.recall(corrupt(xi, 0.1, seed=0), seed=0), xi)
    with pytest.raises(ValueError, match=r"names must be letters among HOTXLZ; got \['Q'\]"):
        vh.glyph_patterns("HQ")
    _, info = net.recall(xi[0], return_info=True)
    curve = capacity_curve(20, [0.1, 0.3], trials=2, seed=0)
    axes = [vh.plot_energy([info.energy], 100), vh.plot_capacity([curve]),
            vh.plot_position_error(np.ones((6, 2)), labels=list("abcdef"), series=["x", "y"], highlight=[1, 4]),
            vh.plot_timeline()]
    assert all(len(ax.lines) > 0 for ax in axes)
    assert len(vh.show_patterns(xi).axes) == 4
    plt.close("all")
