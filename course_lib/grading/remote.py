"""The grader's side of one sandboxed worker: start it, run the cells, call the learner's functions.

A :class:`Session` starts the supervisor (:mod:`course_lib.grading.sandbox`, run as a script with
``python -I -S``) which starts the confined worker (:mod:`course_lib.grading.worker`). The two talk
over a pair of pipes in the :mod:`~course_lib.grading.wire` format. The learner's functions come
back as :class:`RemoteCallable` objects: calling one sends the arguments to the worker, which runs
the function and sends the result back; the task's tests -- and the reference they compare with --
run here, in the grader's process, where the submission cannot reach.

Every wait has a deadline. A worker that dies (``os._exit``, out of memory, a crash) or stops
answering (an endless loop that defeats the in-sandbox time limit) raises :class:`WorkerLost`; the
batch grader then starts a fresh worker for the tasks that remain.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import wire
from .compare import LearnerError, Mismatch, WorkerLost
from .timelimit import TimeLimitExceeded

__all__ = ["Session", "RemoteCallable", "RemoteObject", "MISSING", "CellsReport"]

REPLY_GRACE_S = 5.0      # beyond a call's limit before a silent worker counts as lost
START_TIMEOUT_S = 60.0   # for the supervisor to report the worker started
REPLY_LIMIT = 64 * 2**20
MISSING = object()

_BOOT = ("import sys, json; cfg = json.loads(sys.argv[1]); sys.path[:0] = [cfg['lib']]; "
         "sys.path.extend(cfg['site']); sys.dont_write_bytecode = True; "
         "from course_lib.grading.worker import main; main(cfg)")


class RemoteObject(wire.Handle):
    """An object the learner's code returned that stays in the worker (shown by its type's name)."""

    runs_remotely = True

    def __init__(self, session, id_, type_name):
        super().__init__(id_, type_name, False)
        self.session = session

    @property
    def remote_type_name(self) -> str:
        return self.type_name


class RemoteCallable(RemoteObject):
    """A learner's function (or any callable) in the worker; calling it runs it there."""

    def __init__(self, session, id_, type_name):
        super().__init__(session, id_, type_name)
        self.is_callable = True

    def __call__(self, *args, **kwargs):
        return self.session.call(self, args, kwargs)


class CellsReport:
    """How the cells ran: ``status`` ``"ok" | "timeout" | "died"``, ``stopped_at`` (the cell index
    that was running when it stopped), per-cell ``cells`` info from the worker, the tasks it recorded."""

    def __init__(self, status, stopped_at=None, cells=(), recorded=(), message=""):
        self.status, self.stopped_at, self.cells = status, stopped_at, list(cells)
        self.recorded, self.message = list(recorded), message


class Session:
    """One confined worker for one submission (see the module docstring)."""

    def __init__(self, run_dir, *, lib_dir, site_dirs, read_paths, limits, landlock=True,
                 max_processes=256, wall_seconds=1200.0):
        self.run_dir = Path(run_dir)
        self.lib_dir, self.site_dirs, self.read_paths = str(lib_dir), list(site_dirs), list(read_paths)
        self.limits, self.landlock, self.max_processes = dict(limits), bool(landlock), int(max_processes)
        self.wall_seconds = float(wall_seconds)
        self.proc = None
        self.fd_req = self.fd_rep = None
        self.test_deadline = None
        self.name = "your function"
        self.dead = False
        self.exit_code = None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        home, tmp = self.run_dir / "home", self.run_dir / "tmp"
        for d in (home, tmp, home / ".mpl"):
            d.mkdir(parents=True, exist_ok=True)
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        worker_cfg = {"lib": self.lib_dir, "site": self.site_dirs, "fd_in": req_r, "fd_out": rep_w}
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp), "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(home / ".mpl"),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "COURSE_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": "", "PYTHONHASHSEED": "0"}
        config = {
            "argv": [sys.executable, "-I", "-S", "-B", "-c", _BOOT, json.dumps(worker_cfg)],
            "env": env, "cwd": str(home), "log": str(self.run_dir / "worker.log"),
            "fds": [req_r, rep_w], "limits": self.limits, "landlock": self.landlock,
            "read": self.read_paths + [[self.lib_dir, 1 | 4 | 8]],
            "write": [str(home), str(tmp)], "max_processes": self.max_processes,
            "wall_seconds": self.wall_seconds,
        }
        sandbox = Path(__file__).with_name("sandbox.py")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(sandbox)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, pass_fds=(req_r, rep_w), start_new_session=True, cwd=str(self.run_dir),
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        os.close(req_r)
        os.close(rep_w)
        self.fd_req, self.fd_rep = req_w, rep_r
        self.proc.stdin.write((json.dumps(config) + "\n").encode())
        self.proc.stdin.flush()
        event = self._event(time.monotonic() + START_TIMEOUT_S)
        if not event or event.get("event") != "started":
            self.close()
            raise WorkerLost(f"the sandbox did not start ({event})")

    def _event(self, deadline):
        """The supervisor's next status line (a dict), or ``None`` by the deadline."""
        import select

        fd = self.proc.stdout.fileno()
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1)
            if not chunk:
                return None
            line += chunk
        try:
            return json.loads(line)
        except ValueError:
            return None

    def _lost(self, what: str) -> WorkerLost:
        """Mark the worker dead and describe why (its exit code, when the supervisor reported one)."""
        self.dead = True
        if self.proc is not None:
            for _ in range(3):
                event = self._event(time.monotonic() + 0.5)
                if event is None:
                    break
                if event.get("event") == "exited":
                    self.exit_code = event.get("code")
                    break
        code = self.exit_code
        if code == 111:
            why = "the sandbox could not be set up (see worker.log)"
        elif code is not None and code < 0:
            why = f"it was killed by signal {-code}" + (" (memory limit or SIGKILL)" if code == -9 else "")
        elif code is not None:
            why = f"it exited with code {code} (sys.exit/os._exit, or out of memory)"
        else:
            why = "it stopped answering"
        return WorkerLost(f"the process running your code stopped {what}: {why}")

    def close(self) -> None:
        """Ask the supervisor to kill everything the worker started, and wait for it."""
        for fd in (self.fd_req, self.fd_rep):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd_req = self.fd_rep = None
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        self.dead = True

    # ------------------------------------------------------------------ messages
    def _send(self, message, generators=None) -> None:
        try:
            wire.send(self.fd_req, wire.encode(message, generators=generators, models=True))
        except (BrokenPipeError, OSError) as err:
            raise self._lost("before it could be sent its inputs") from err

    def _recv(self, deadline):
        handle_of = lambda i, n, c: RemoteCallable(self, i, n) if c else RemoteObject(self, i, n)
        try:
            reply = wire.decode(wire.recv(self.fd_rep, deadline, REPLY_LIMIT), handle_of=handle_of)
        except TimeoutError:
            raise TimeoutError from None
        except EOFError as err:
            raise self._lost("while it ran") from err
        except wire.WireError as err:
            raise LearnerError(f"the sandbox sent a malformed answer ({err})") from None
        if not isinstance(reply, dict):
            raise LearnerError("the sandbox sent a malformed answer (not a dict)")
        return reply

    # ------------------------------------------------------------------ the cells
    def run_cells(self, cells, budget: float) -> CellsReport:
        """Execute ``cells`` (``[(index, source), ...]``) within ``budget`` seconds in all."""
        self._send({"op": "run", "cells": [[int(i), s] for i, s in cells], "budget": float(budget)})
        deadline = time.monotonic() + budget + REPLY_GRACE_S + 30.0  # start-up: imports of numpy/torch
        current = None
        while True:
            try:
                reply = self._recv(deadline)
            except TimeoutError:
                self.kill()
                return CellsReport("timeout", current, message=f"the notebook did not finish within {budget:g} s")
            except WorkerLost as err:
                return CellsReport("died", current, message=str(err))
            except LearnerError as err:
                self.kill()
                return CellsReport("died", current, message=str(err))
            if reply.get("op") == "cell" and isinstance(reply.get("index"), int):
                current = reply["index"]
            elif reply.get("op") == "ran":
                cells_info = reply.get("cells") if isinstance(reply.get("cells"), list) else []
                recorded = [t for t in reply.get("recorded", []) if isinstance(t, str)] \
                    if isinstance(reply.get("recorded"), list) else []
                return CellsReport("ok", None, cells_info, recorded)

    def kill(self) -> None:
        """Stop the worker now (the supervisor kills its whole tree)."""
        self.dead = True
        if self.proc is not None:
            try:
                self.proc.stdin.write(b"kill\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):
                pass

    # ------------------------------------------------------------------ the learner's objects
    def get(self, task: str):
        """What the notebook's last ``check(task, obj)`` named (``MISSING`` if none)."""
        if self.dead:
            raise WorkerLost("the process running your code had stopped before this task")
        self._send({"op": "get", "task": task})
        try:
            reply = self._recv(time.monotonic() + 30.0)
        except TimeoutError:
            self.kill()
            raise self._lost("while it was asked for this task's answer") from None
        if reply.get("missing"):
            return MISSING
        if "unsendable" in reply:
            raise Mismatch(f"the answer given to check() cannot be graded ({str(reply['unsendable'])[:200]})")
        return reply.get("value")

    def call(self, fn: RemoteCallable, args, kwargs):
        if self.dead or fn.session is not self:
            raise WorkerLost("the process running your code had stopped")
        limit = 10.0 if self.test_deadline is None else max(0.05, self.test_deadline - time.monotonic())
        generators: list = []
        try:
            message = {"op": "call", "id": fn.id, "args": list(args), "kwargs": dict(kwargs),
                       "limit": limit, "name": self.name}
            payload = wire.encode(message, generators=generators, models=True)
        except wire.WireError as err:  # pragma: no cover - the grader's own inputs always cross
            raise RuntimeError(f"cannot send the inputs: {err}") from None
        try:
            wire.send(self.fd_req, payload)
        except OSError as err:
            raise self._lost("before it could be sent its inputs") from err
        try:
            reply = self._recv(time.monotonic() + limit + REPLY_GRACE_S)
        except TimeoutError:
            self.kill()
            self.dead = True
            raise TimeLimitExceeded("the process running your code stopped answering") from None
        if reply.get("timeout"):
            raise TimeLimitExceeded("time limit")
        if "learner_error" in reply:
            raise LearnerError(str(reply["learner_error"])[:600])
        if "unsendable" in reply:
            raise LearnerError(f"{self.name} returned a value that cannot be graded "
                               f"({str(reply['unsendable'])[:200]})")
        states = reply.get("gens", [])
        if not isinstance(states, list) or len(states) != len(generators):
            raise LearnerError("the sandbox sent a malformed answer (random generator states)")
        for gen, state in zip(generators, states):
            try:
                wire.set_generator_state(gen, state)
            except wire.WireError as err:
                raise LearnerError(str(err)) from None
        return reply.get("value")
