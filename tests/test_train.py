"""course_lib.train.fit: learns, clips, stops early, stops on NaN naming the step, records history."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.train import History, NonFiniteLossError, fit


def regression(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5]])


def mse(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_fit_learns_and_records_history(optimizer, device):
    x, y = regression()
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    model = torch.nn.Linear(3, 1)
    hist = fit(model, mse, batches, optimizer=optimizer, lr=0.05, epochs=30, device=device, seed=0,
               progress=False, eval_fn=lambda m: {"val_mse": mse(m, (x.to(device), y.to(device))).item()})
    assert isinstance(hist, History)
    assert len(hist.steps) == len(hist.loss) == len(hist.grad_norm) == len(hist.time) == 120
    assert hist.steps == list(range(1, 121)) and hist.time == sorted(hist.time)
    assert hist.loss[-1] < 0.05 * hist.loss[0]
    assert len(hist.eval_steps) == 30 and len(hist.metrics["val_mse"]) == 30
    assert hist.stop_reason == "finished 30 epoch(s)"
    assert next(model.parameters()).device.type == device.type


def test_seeded_runs_are_identical():
    x, y = regression()

    def run():
        torch.manual_seed(123)                           # a different global state each time ...
        model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        return fit(model, mse, [(x, y)], epochs=5, seed=7, progress=False, device="cpu").loss

    first = run()
    torch.manual_seed(999)
    assert run() == first


def test_nan_guard_names_the_step():
    x, y = regression()
    calls = {"n": 0}

    def poisoned(model, batch):
        calls["n"] += 1
        loss = mse(model, batch)
        return loss * float("nan") if calls["n"] == 7 else loss

    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step 7: try gradient clipping .* smaller learning rate"):
        fit(torch.nn.Linear(3, 1), poisoned, [(x, y)], steps=20, progress=False, device="cpu")


def test_exploding_gradients_are_caught():
    x, y = regression()
    with pytest.raises(FloatingPointError, match=r"at step \d+"):
        fit(torch.nn.Linear(3, 1), mse, [(x * 1e20, y)], optimizer="sgd", lr=1e10, steps=50,
            progress=False, device="cpu")


def test_clipping_bounds_the_global_norm():
    x, y = regression()
    seen = []

    class Spy(torch.nn.Linear):
        pass

    model = Spy(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    original_step = opt.step

    def step(*a, **k):                                   # look at the gradients the optimizer gets
        seen.append(torch.sqrt(sum(p.grad.square().sum() for p in model.parameters())).item())
        return original_step(*a, **k)

    opt.step = step
    hist = fit(model, lambda m, b: 100 * mse(m, b), [(x, y)], optimizer=opt, steps=3, clip=0.5,
               progress=False, device="cpu")
    assert min(hist.grad_norm) > 0.5                     # recorded before clipping ...
    assert all(math.isclose(s, 0.5, rel_tol=1e-4) for s in seen)   # ... applied at 0.5


def test_early_stopping_stops_and_restores_best():
    x, y = regression()
    scores = iter([5.0, 3.0, 4.0, 4.5, 6.0, 1.0, 0.5])    # best at the 2nd evaluation, then worse
    model = torch.nn.Linear(3, 1)
    snapshots = []

    def eval_fn(m):
        snapshots.append(m.weight.detach().clone())
        return next(scores)

    hist = fit(model, mse, [(x, y)], lr=0.1, steps=100, eval_every=2, eval_fn=eval_fn, patience=3,
               progress=False, device="cpu")
    assert hist.stopped_early and hist.steps[-1] == 10
    assert hist.best_step == 4 and hist.best_value == 3.0
    assert hist.metrics["val_loss"] == [5.0, 3.0, 4.0, 4.5, 6.0]
    assert torch.equal(model.weight, snapshots[1])       # best weights restored


def test_generator_data_and_callable_data():
    x, y = regression()
    gen = ((x, y) for _ in range(5))
    hist = fit(torch.nn.Linear(3, 1), mse, gen, epochs=3, progress=False, device="cpu")
    assert len(hist.steps) == 5 and hist.stop_reason == "data ran out"
    hist = fit(torch.nn.Linear(3, 1), mse, lambda: [(x, y)] * 2, epochs=3, progress=False, device="cpu")
    assert len(hist.steps) == 6


def test_bad_arguments():
    x, y = regression()
    with pytest.raises(ValueError, match="optimizer must be one of .*; got 'adagrad'"):
        fit(torch.nn.Linear(3, 1), mse, [(x, y)], optimizer="adagrad", progress=False)
    with pytest.raises(ValueError, match="needs an eval_fn"):
        fit(torch.nn.Linear(3, 1), mse, [(x, y)], patience=2, progress=False)
    with pytest.raises(TypeError, match=r"scalar tensor; got \(64, 1\)"):
        fit(torch.nn.Linear(3, 1), lambda m, b: m(b[0]), [(x, y)], progress=False, device="cpu")
    with pytest.raises(ValueError, match="data yielded no batches"):
        fit(torch.nn.Linear(3, 1), mse, [], progress=False, device="cpu")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module; got function"):
        fit(lambda x: x, mse, [(x, y)], progress=False)
