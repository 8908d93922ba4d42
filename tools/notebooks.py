"""pytest plugin for the nbval run of ``make test`` (loaded by the repository's ``conftest.py``).

Three things, each switched on by an option that ``make test`` passes:

``--notebook-timeout=SECONDS``
    A time budget per *notebook* (kernel start and every cell together), enforced by pytest-timeout: each
    cell gets what is left of its notebook's budget as its ``timeout`` marker, so a chapter that runs past
    the course's two-minute rule fails at the cell where the budget ran out (its kernel is stopped and the
    rest of its cells are skipped) instead of slowing the whole run down.
``--notebook-times=FILE``
    Seconds per notebook (all phases of all its cells), merged into FILE (JSON) and printed, slowest first,
    at the end of the run.
``--book-cache=DIR``
    Each chapter that nbval executed without a failure is stored, with the outputs nbval received from
    its kernel, in the jupyter-cache DIR that the book build reads (``_config.yml`` -> ``execute.cache``).
    The build then finds every chapter in the cache and renders it without executing it again: one
    execution per ``make test``. Only valid while ``COURSE_STATIC_BOOK=1`` (the book's environment: no
    widgets, no live progress bars), so the stored outputs are exactly what the book would have produced.
"""
from __future__ import annotations

import copy
import json
import signal
import time
from pathlib import Path

import pytest

from course_lib.core.book import STATIC_ENV, static_book


def pytest_addoption(parser):
    group = parser.getgroup("course notebooks")
    group.addoption("--notebook-timeout", type=float, default=None, metavar="SECONDS",
                    help="time budget of each notebook under nbval (kernel start + all cells)")
    group.addoption("--notebook-times", default=None, metavar="FILE",
                    help="merge the seconds each notebook took into FILE (JSON) and print the slowest")
    group.addoption("--book-cache", default=None, metavar="DIR",
                    help="store every notebook nbval executed without failure in this jupyter-cache")


def _is_cell(item):
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


def _notebook_of(nodeid):
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


def pytest_configure(config):
    if config.getoption("book_cache") and not static_book():
        raise pytest.UsageError(f"--book-cache stores outputs for the book: run with {STATIC_ENV}=1, the "
                                "book build's environment (got the live-kernel environment)")
    timeout = config.getoption("notebook_timeout")
    if timeout is not None and timeout <= 0:
        raise pytest.UsageError(f"--notebook-timeout must be a positive number of seconds; got {timeout}")
    if config.getoption("book_cache"):
        _record_raw_outputs()
    config.pluginmanager.register(_Notebooks(config), "course-notebooks")


_RUNNING = {}   # "item": the nbval cell whose runtest is under way in this process


def _record_raw_outputs():
    """Keep each cell's outputs as they arrived, before nbval merges its streams for comparing.

    nbval joins every ``stdout`` piece of a cell into one output placed before the cell's figures; the
    book build (nbclient) keeps them in arrival order, and that order is what the page shows. nbval's
    ``runtest`` calls the module's ``coalesce_streams`` on the very list it keeps as ``item.test_outputs``;
    a copy of that list is taken just before.
    """
    import nbval.plugin as nbval_plugin

    original = getattr(nbval_plugin, "coalesce_streams", None)
    if original is None or getattr(original, "_course_recording", False):
        if original is None:
            raise pytest.UsageError("--book-cache: nbval.plugin.coalesce_streams is gone (nbval changed); "
                                    "the book cache cannot be filled from this nbval version")
        return

    def recording(outputs):
        item = _RUNNING.get("item")
        if item is not None and outputs is getattr(item, "test_outputs", None):
            item.course_raw_outputs = copy.deepcopy(list(outputs))
        return original(outputs)

    recording._course_recording = True
    nbval_plugin.coalesce_streams = recording


class _Run:
    """What one worker knows about one notebook while its cells run."""

    def __init__(self):
        self.start = None
        self.failed = False
        self.over_budget = False
        self.language_info = None
        self.cells = []          # the IPyNbCell items that ran, in order


class _Notebooks:
    def __init__(self, config):
        self.config = config
        self.budget = config.getoption("notebook_timeout")
        self.cache_dir = config.getoption("book_cache")
        self.times_file = config.getoption("notebook_times")
        self.runs = {}           # notebook nodeid -> _Run           (where the cells run)
        self.last_cell = {}      # notebook nodeid -> nodeid of its last cell
        self.seconds = {}        # notebook nodeid -> seconds        (where reports arrive)
        self.is_worker = hasattr(config, "workerinput")

    # ------------------------------------------------------------------ where the cells run
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            if _is_cell(item):
                self.last_cell[item.parent.nodeid] = item.nodeid

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)   # outside pytest-timeout's wrapper: it reads the marker
    def pytest_runtest_protocol(self, item, nextitem):
        if not _is_cell(item):
            yield
            return
        run = self.runs.setdefault(item.parent.nodeid, _Run())
        if run.start is None:
            run.start = time.monotonic()
        if self.budget is not None:
            left = self.budget - (time.monotonic() - run.start)
            if run.over_budget or left <= 0:
                item.add_marker(pytest.mark.skip(reason=f"notebook stopped: over its {self.budget:g} s budget"))
            elif hasattr(signal, "SIGALRM"):
                item.add_marker(pytest.mark.timeout(left, method="signal"))
        _RUNNING["item"] = item
        try:
            yield
        finally:
            _RUNNING.pop("item", None)
        run.cells.append(item)
        if self.budget is not None and not run.over_budget and time.monotonic() - run.start > self.budget:
            run.over_budget = run.failed = True
            kernel = getattr(item.parent, "kernel", None)
            if kernel is not None and kernel.is_alive():
                kernel.stop()                      # it may still be running the cell that timed out
        if item.nodeid == self.last_cell.get(item.parent.nodeid) and self.cache_dir and not run.failed:
            _store(item.parent, run, time.monotonic() - run.start, self.cache_dir)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if not _is_cell(item):
            return
        run = self.runs.setdefault(item.parent.nodeid, _Run())
        if report.failed or report.skipped:
            run.failed = True                       # incomplete outputs: not cached
        if (report.failed and self.budget is not None and run.start is not None and "Timeout" in str(report.longrepr)
                and time.monotonic() - run.start >= self.budget - 0.5):
            report.longrepr = (f"{item.parent.nodeid} ran past its time budget of {self.budget:g} s (kernel start "
                               f"and every cell; the course's rule is two minutes per chapter): stopped in "
                               f"{item.name} after {time.monotonic() - run.start:.0f} s. `make test NB_TIMEOUT=...` "
                               f"sets the budget.")
        elif call.when == "setup" and self.cache_dir and run.language_info is None:
            run.language_info = _language_info(item.parent) or {}   # while the kernel is alive

    # ------------------------------------------------------------------ where the reports arrive
    def pytest_runtest_logreport(self, report):
        nb = _notebook_of(report.nodeid)
        if nb is not None and not self.is_worker:
            self.seconds[nb] = self.seconds.get(nb, 0.0) + report.duration

    def pytest_terminal_summary(self, terminalreporter):
        if self.is_worker or not self.seconds:
            return
        times = dict(self.seconds)
        if self.times_file:
            path = Path(self.times_file)
            if path.exists():
                times = {**json.loads(path.read_text()), **times}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
        tr = terminalreporter
        budget = f" (budget {self.budget:g} s each)" if self.budget else ""
        tr.write_sep("=", f"slowest notebooks{budget}")
        for nb, s in sorted(times.items(), key=lambda kv: -kv[1])[:12]:
            tr.write_line(f"{s:8.1f} s  {nb}")
        tr.write_line(f"{sum(times.values()):8.1f} s  in all, {len(times)} notebooks")


def _store(collector, run, seconds, cache_dir):
    """Put the notebook, with the outputs nbval received for each code cell, into the jupyter-cache."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = copy.deepcopy(collector.nb)
    code, cells = [c for c in nb.cells if c.cell_type == "code"], run.cells
    if len(code) != len(cells):
        return                                      # some cell did not run: let the book build execute it
    if any(getattr(item, "course_raw_outputs", None) is None for item in cells):
        return
    for n, (cell, item) in enumerate(zip(code, cells), start=1):
        cell.execution_count = n
        cell.outputs = item.course_raw_outputs
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = n
    if run.language_info:
        nb.metadata["language_info"] = run.language_info
    cache = get_cache(str(cache_dir))
    path = str(Path(str(collector.fspath)).resolve())
    for attempt in range(30):                        # two workers may write the SQLite index at once
        try:
            record = cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(CacheBundleIn(nb, record.uri, data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            return
        except Exception as err:  # sqlalchemy's OperationalError: database is locked
            if "locked" not in str(err) or attempt == 29:
                raise
            time.sleep(0.2)


def _language_info(collector):
    """The kernel's ``language_info`` (what a Jupyter execution writes into the notebook's metadata)."""
    kernel = getattr(collector, "kernel", None)
    try:
        if kernel is not None and kernel.is_alive():
            reply = kernel.kc.kernel_info(reply=True, timeout=10)
            return reply["content"].get("language_info")
    except Exception:  # a missing reply only costs the lexer name
        return None
    return None

