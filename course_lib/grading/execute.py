"""Execute one submitted notebook in a fresh kernel: the worker process of the batch grader.

``python -m course_lib.grading.execute NOTEBOOK --results R.jsonl --status S.json --timeout SECONDS
[--workdir DIR] [--executed OUT.ipynb]``

Runs every cell with nbclient (``allow_errors=True``: a failing cell does not stop the check cells
after it) in the kernel spec ``python3`` of this Python; ``check()`` calls in the notebook append
their results to ``R.jsonl`` (through ``COURSE_GRADING_RESULTS``, set here for the kernel). The whole
notebook must finish within ``SECONDS`` (kernel start-up included). The outcome goes to ``S.json``:
``{"status": "ok" | "timeout" | "kernel_died" | "invalid" | "error", "message": ..., "kernel_pid": ...}``.
The batch grader runs this in its own process group and kills it (and the kernel, whose pid is
recorded as soon as it is known) should it overrun.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["main", "kernel_environment"]


def kernel_environment(results: str | os.PathLike | None, runtime_dir: str | os.PathLike | None = None) -> dict:
    """The environment for a grading kernel: this Python's kernel spec first, results file set,
    connection files and sockets in ``runtime_dir`` (when given)."""
    from .result import RESULTS_ENV

    env = dict(os.environ)
    own = os.path.join(sys.prefix, "share", "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join([own] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p])
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    env.pop(RESULTS_ENV, None)
    if results is not None:
        env[RESULTS_ENV] = str(results)
    if runtime_dir is not None:
        env["JUPYTER_RUNTIME_DIR"] = str(runtime_dir)
    return env


def _write(path, status):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.execute")
    parser.add_argument("notebook")
    parser.add_argument("--results", required=True)
    parser.add_argument("--status", required=True)
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--executed", default=None, help="write the executed notebook here")
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.timeout
    status = {"status": "ok", "message": "", "kernel_pid": None}
    _write(args.status, status)
    runtime = Path(args.status).resolve().parent / "runtime"
    runtime.mkdir(exist_ok=True)
    os.environ.update(kernel_environment(args.results, runtime))  # inherited by the kernel

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from traitlets.config import Config

    try:
        nb = nbformat.read(args.notebook, as_version=4)
    except Exception as err:  # any unreadable file is an invalid submission
        status.update(status="invalid", message=f"not a valid notebook ({type(err).__name__}: {err})")
        _write(args.status, status)
        return 3

    current = {"cell": "?"}
    n_cells = len(nb.cells)

    def on_start(**_):
        provisioner = getattr(client.km, "provisioner", None)
        status["kernel_pid"] = getattr(provisioner, "pid", None)
        _write(args.status, status)

    def on_cell(cell=None, cell_index=None, **_):
        current["cell"] = f"{cell_index + 1} of {n_cells}" if isinstance(cell_index, int) else "?"

    # IPC sockets in a private runtime folder instead of TCP ports: kernels started side by side
    # cannot race for the same free port, and nothing listens on the network.
    config = Config()
    config.KernelManager.transport = "ipc"
    client = NotebookClient(
        nb, kernel_name="python3", allow_errors=True, shutdown_kernel="immediate", config=config,
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        startup_timeout=max(60, int(args.timeout)),  # a loaded machine can take long to start a kernel
        resources={"metadata": {"path": args.workdir or os.getcwd()}},
        on_notebook_start=on_start, on_cell_start=on_cell,
    )
    code = 0
    try:
        client.execute()
    except CellTimeoutError:
        status.update(status="timeout", message=f"the notebook did not finish within {args.timeout:g} s "
                      f"(cell {current['cell']} was still running: an endless loop outside a check?)")
        code = 4
    except DeadKernelError:
        status.update(status="kernel_died", message=f"the kernel died while running cell {current['cell']} "
                      "(os._exit, a crash, or out of memory)")
        code = 5
    except Exception as err:  # reported, never fatal for the grader
        status.update(status="error", message=f"could not run the notebook ({type(err).__name__}: "
                      f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else ''})")
        code = 6
    if args.executed:
        try:
            nbformat.write(nb, args.executed)
        except Exception:  # the executed copy is a convenience
            pass
    _write(args.status, status)
    return code


if __name__ == "__main__":
    sys.exit(main())
