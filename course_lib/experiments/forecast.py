"""Chapter 08 (b): multi-step forecasting of the yearly sunspot numbers, an RNN beside two baselines.

The data are real (:func:`course_lib.data.sunspots`, 1700-2008, public-domain NOAA numbers). The
series is cut in time, by the years of each window's targets: training, then ``val_years`` of
validation (for early stopping only), then test from ``split_year`` on (the test inputs may reach back
into earlier years, as a forecaster's would). Every model sees the last ``input_len`` years and
predicts the next ``horizon``.

- :func:`last_value_forecast`: the naive forecast, the last value seen, repeated.
- :func:`fit_linear_ar` / :func:`linear_ar_forecast`: a linear autoregressive model fitted by least
  squares, ``y_{t+k} = w_k . (x_{t-p+1} .. x_t) + b_k`` for each ``k = 1 .. horizon`` (direct multi-step).
- :class:`Forecaster`: ``course_lib.nn.GRU``/``LSTM`` over the window, one linear map from the last state
  to all ``horizon`` values (many-to-one, a vector out); :func:`train_forecaster` trains it with
  :func:`course_lib.train.fit` and early stopping.
- :func:`rmse_by_horizon`; :func:`forecast_experiment` runs the three and returns a :class:`ForecastResult`.

Shapes: inputs ``(n, input_len, 1)``, targets and forecasts ``(n, horizon)``, as :func:`course_lib.data.make_windows`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .. import nn as cnn
from ..data.series import make_windows, sunspots
from ..train import fit

__all__ = ["last_value_forecast", "fit_linear_ar", "linear_ar_forecast", "Forecaster", "train_forecaster",
           "rmse_by_horizon", "ForecastResult", "forecast_experiment"]

KINDS = {"gru": cnn.GRU, "lstm": cnn.LSTM}


def _inputs(inputs):
    inputs = torch.as_tensor(inputs)
    if inputs.dim() != 3 or inputs.shape[2] != 1:
        raise ValueError(f"inputs must be (n, input_len, 1); got {tuple(inputs.shape)}")
    return inputs


def last_value_forecast(inputs, horizon):
    """The naive forecast: every one of the ``horizon`` future values equals the last input.

    inputs ``(n, input_len, 1)`` -> ``(n, horizon)``.
    """
    inputs = _inputs(inputs)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive int; got {horizon!r}")
    return inputs[:, -1, 0:1].expand(-1, horizon).clone()


def _design(inputs, order):
    inputs = _inputs(inputs)
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= inputs.shape[1]:
        raise ValueError(f"order must be an int in [1, input_len = {inputs.shape[1]}]; got {order!r}")
    x = inputs[:, -order:, 0].double()
    return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)       # (n, order + 1)


def fit_linear_ar(inputs, targets, order):
    """Least-squares weights of a direct linear AR(``order``) forecaster: ``(order + 1, horizon)`` float64.

    Column ``k`` maps the last ``order`` inputs (and a constant 1) to the value ``k + 1`` steps ahead.
    inputs ``(n, input_len, 1)``, targets ``(n, horizon)``.
    """
    X = _design(inputs, order)
    targets = torch.as_tensor(targets).double()
    if targets.dim() != 2 or targets.shape[0] != X.shape[0]:
        raise ValueError(f"targets must be (n, horizon) with n = {X.shape[0]}; got {tuple(targets.shape)}")
    return torch.linalg.lstsq(X, targets).solution


def linear_ar_forecast(inputs, weights):
    """Forecasts of a fitted linear AR model: inputs ``(n, input_len, 1)`` -> ``(n, horizon)`` float32."""
    return (_design(inputs, weights.shape[0] - 1) @ weights).float()


class Forecaster(torch.nn.Module):
    """``course_lib.nn.GRU``/``LSTM`` (batch first) over the window -> ``Linear(hidden, horizon)`` on the last state.

    inputs ``(n, input_len, 1)`` -> forecasts ``(n, horizon)``: the state after the last input
    summarises the window (many-to-one), and one linear map reads all ``horizon`` future values from it.
    """

    def __init__(self, horizon, hidden=32, kind="gru"):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}; got {kind!r}")
        self.rnn = KINDS[kind](1, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, horizon)

    def forward(self, inputs):
        _, state = self.rnn(_inputs(inputs))
        h_n = state[0] if isinstance(state, tuple) else state
        return self.out(h_n[-1])


def train_forecaster(inputs, targets, val=None, *, hidden=32, kind="gru", steps=600, lr=1e-2, eval_every=5,
                     patience=10, seed=0, device=None, progress=False):
    """Train a :class:`Forecaster` on ``(inputs, targets)`` by full-batch Adam on the mean squared error.

    ``val = (val_inputs, val_targets)`` (optional) turns on early stopping: the validation MSE is measured
    every ``eval_every`` steps, training stops after ``patience`` evaluations without improvement and the
    best weights are restored. Returns ``(model, history)``; the model is on ``device``.
    """
    torch.manual_seed(seed)
    model = Forecaster(targets.shape[1], hidden=hidden, kind=kind)
    stopping = {}
    if val is not None:
        xv, yv = val

        def val_mse(m):
            dev = next(m.parameters()).device
            return F.mse_loss(m(xv.to(dev)), yv.to(dev))

        stopping = dict(eval_fn=val_mse, eval_every=eval_every, patience=patience)
    history = fit(model, lambda m, b: F.mse_loss(m(b[0]), b[1]), [(inputs, targets)], lr=lr, steps=steps,
                  epochs=steps, clip=1.0, device=device, progress=progress, desc="forecaster", **stopping)
    return model, history


def rmse_by_horizon(forecast, target):
    """Root mean squared error at each step ahead: ``(n, horizon)`` twice -> ``(horizon,)`` float64 array."""
    forecast, target = torch.as_tensor(forecast).double().cpu(), torch.as_tensor(target).double().cpu()
    if forecast.shape != target.shape or forecast.dim() != 2:
        raise ValueError(f"forecast and target must both be (n, horizon); got {tuple(forecast.shape)} "
                         f"and {tuple(target.shape)}")
    return ((forecast - target) ** 2).mean(0).sqrt().numpy()


@dataclass
class ForecastResult:
    """What :func:`forecast_experiment` returns.

    ``rmse``: model name -> ``(horizon,)`` test RMSE in sunspot units; ``forecasts``: name -> ``(n_test, horizon)``;
    ``targets`` ``(n_test, horizon)``; ``target_years`` ``(n_test,)``: the year of each test window's first target;
    ``years``/``series``: the whole record; ``n_windows``: ``{"train", "val", "test"}`` window counts;
    ``train_rmse``: name -> RMSE on the training windows (mean over the horizon), to compare with the test error;
    ``run_rmse``: ``(runs, horizon)`` test RMSE of each RNN of the ensemble alone; ``best_steps``: the step
    early stopping kept for each run (``None`` without early stopping).
    """
    rmse: dict
    forecasts: dict
    targets: np.ndarray
    target_years: np.ndarray
    years: np.ndarray
    series: np.ndarray
    n_windows: dict
    train_rmse: dict
    run_rmse: np.ndarray
    best_steps: list
    settings: dict = field(default_factory=dict)

    def table(self):
        """The RMSE table as text: one row per model, one column per step ahead, and their mean."""
        horizon = len(next(iter(self.rmse.values())))
        head = f"{'model':<16}" + "".join(f"{f'+{k + 1}':>7}" for k in range(horizon)) + f"{'mean':>8}"
        rows = [f"{name:<16}" + "".join(f"{v:7.1f}" for v in r) + f"{r.mean():8.1f}" for name, r in self.rmse.items()]
        return "\n".join([head] + rows)


def forecast_experiment(input_len=24, horizon=6, split_year=1930, val_years=30, ar_order=None, hidden=32,
                        kind="gru", runs=5, steps=600, lr=1e-2, early_stopping=True, seed=0, device=None,
                        progress=False):
    """Forecast the sunspot numbers ``horizon`` years ahead from ``input_len`` years, three ways.

    Windows are assigned by the years of their targets: test from ``split_year`` on; validation in the
    ``val_years`` before it (used only to stop the RNN's training early); training before that. The
    series is standardised with the mean and standard deviation of the years before ``split_year``.
    The linear AR model (order ``ar_order``, default ``input_len``) is fitted on the training windows;
    the RNN forecast is the average of ``runs`` RNNs trained from seeds ``seed .. seed + runs - 1``
    (each with early stopping on the validation windows, unless ``early_stopping=False``: then each runs all
    ``steps``). Errors are in the original units. Returns a :class:`ForecastResult`
    with models ``"last value"``, ``"linear AR(p)"`` and ``"GRU"`` (or ``"LSTM"``).
    """
    years, series = sunspots()
    first, last = years[0] + input_len + val_years + horizon, years[-1] - horizon + 1
    if not first <= split_year <= last:
        raise ValueError(f"split_year must leave training, validation and test windows: in "
                         f"[{first:.0f}, {last:.0f}] for input_len={input_len}, val_years={val_years}, "
                         f"horizon={horizon}; got {split_year!r}")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a positive int; got {runs!r}")
    ar_order = input_len if ar_order is None else ar_order
    cut = int(np.searchsorted(years, split_year))                # first test year's index
    vcut = cut - val_years                                       # first validation year's index
    mean, std = series[:cut].mean(), series[:cut].std()
    z = (series - mean) / std
    x_tr, y_tr = make_windows(z[:vcut], input_len, horizon)      # every target before the validation years
    x_va, y_va = make_windows(z[vcut - input_len: cut], input_len, horizon)
    x_te, y_te = make_windows(z[cut - input_len:], input_len, horizon)
    target_years = years[cut: cut + len(x_te)]
    unscale = lambda f: torch.as_tensor(f).double().cpu().numpy() * std + mean
    targets = unscale(y_te)

    rnn_forecasts, rnn_fitted, best_steps = [], [], []
    for r in range(runs):
        model, history = train_forecaster(x_tr, y_tr, (x_va, y_va) if early_stopping else None, hidden=hidden,
                                          kind=kind, steps=steps, lr=lr, seed=seed + r, device=device,
                                          progress=progress)
        dev = next(model.parameters()).device
        with torch.no_grad():
            rnn_forecasts.append(unscale(model(x_te.to(dev))))
            rnn_fitted.append(unscale(model(x_tr.to(dev))))
        best_steps.append(history.best_step)
    weights = fit_linear_ar(x_tr, y_tr, ar_order)
    ar_name, rnn_name = f"linear AR({ar_order})", kind.upper()
    forecasts = {"last value": unscale(last_value_forecast(x_te, horizon)),
                 ar_name: unscale(linear_ar_forecast(x_te, weights)), rnn_name: np.mean(rnn_forecasts, axis=0)}
    train_targets = unscale(y_tr)
    train_rmse = {"last value": rmse_by_horizon(unscale(last_value_forecast(x_tr, horizon)), train_targets).mean(),
                  ar_name: rmse_by_horizon(unscale(linear_ar_forecast(x_tr, weights)), train_targets).mean(),
                  rnn_name: rmse_by_horizon(np.mean(rnn_fitted, axis=0), train_targets).mean()}
    rmse = {name: rmse_by_horizon(f, targets) for name, f in forecasts.items()}
    run_rmse = np.stack([rmse_by_horizon(f, targets) for f in rnn_forecasts])
    settings = dict(input_len=input_len, horizon=horizon, split_year=split_year, val_years=val_years,
                    ar_order=ar_order, hidden=hidden, kind=kind, runs=runs, steps=steps, lr=lr,
                    early_stopping=early_stopping, seed=seed)
    return ForecastResult(rmse, forecasts, targets, target_years, years, series,
                          {"train": len(x_tr), "val": len(x_va), "test": len(x_te)}, train_rmse, run_rmse,
                          best_steps, settings)
