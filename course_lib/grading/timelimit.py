"""Run a learner's code with a time limit, so an endless loop costs seconds, not the session.

In the main thread of a Unix process (a Jupyter kernel, a script, pytest) the limit is a real-time
interval timer (``signal.setitimer``) whose handler raises :class:`TimeLimitExceeded` inside the
running code. It derives from ``BaseException``, so a learner's ``except Exception:`` cannot swallow
it; should a bare ``except:`` swallow it anyway, the timer fires again every 0.25 s until the code
gives up. Elsewhere (another thread, Windows) the code runs in a daemon thread that is abandoned
when the time is up: the check goes on and reports the time-out, but the abandoned thread keeps
running in the background until the kernel is restarted.
"""
from __future__ import annotations

import signal
import threading
import time

__all__ = ["TimeLimitExceeded", "run_with_time_limit", "can_interrupt"]

_REPEAT_S = 0.25


class TimeLimitExceeded(BaseException):
    """Raised inside the learner's code when its time is up (``BaseException``: not caught by ``except Exception``)."""


def can_interrupt() -> bool:
    """True when the timer can interrupt running code (main thread and ``SIGALRM`` available)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def run_with_time_limit(func, seconds: float):
    """Return ``func()``, or raise :class:`TimeLimitExceeded` once ``seconds`` have passed.

    Exceptions raised by ``func`` propagate unchanged. ``seconds`` <= 0 or ``None`` means no limit.
    """
    if seconds is None or seconds <= 0:
        return func()
    if can_interrupt():
        return _run_with_timer(func, float(seconds))
    return _run_in_thread(func, float(seconds))


def _run_with_timer(func, seconds):
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            raise TimeLimitExceeded(f"time limit of {seconds:g} s exceeded")

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    start = time.monotonic()
    previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT_S)
    try:
        return func()
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0] > 0:  # someone else's timer (e.g. pytest-timeout) was running: give back the rest
            remaining = max(previous_timer[0] - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, remaining, previous_timer[1])


def _run_in_thread(func, seconds):
    box = {}

    def target():
        try:
            box["value"] = func()
        except BaseException as err:  # handed to the caller below
            box["error"] = err

    worker = threading.Thread(target=target, name="course_lib-check", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeLimitExceeded(f"time limit of {seconds:g} s exceeded (the code keeps running in a "
                                "background thread; restart the kernel to stop it)")
    if "error" in box:
        raise box["error"]
    return box.get("value")
