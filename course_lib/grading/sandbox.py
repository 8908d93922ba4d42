"""Operating-system confinement of one submission's worker, and its supervisor process.

The batch grader starts this file *as a script* (``python -I -S sandbox.py``; standard library only,
so nothing a submission can reach is imported) once per submission. That process, the
*supervisor*, reads its configuration as one JSON line on stdin and:

1. becomes a *child subreaper* (``PR_SET_CHILD_SUBREAPER``): every process the worker starts stays
   its descendant, even one that double-forks and calls ``setsid`` to detach;
2. forks the *worker*, which confines itself before it runs any learner code:
   a new session; resource limits (``RLIMIT_AS`` memory, ``RLIMIT_NPROC`` processes where the
   kernel enforces it, i.e. not for uid 0, ``RLIMIT_FSIZE`` output size, ``RLIMIT_CPU``,
   ``RLIMIT_NOFILE``, no core files); a ``pids`` cgroup with ``pids.max`` where one can be made
   (as root, whom ``RLIMIT_NPROC`` does not bind); all capabilities dropped (as root);
   ``PR_SET_NO_NEW_PRIVS``; and a **Landlock** domain (Linux >= 5.13, no privileges needed): read
   access only to the system and Python installation directories it needs (never to a
   ``course_lib`` installation, the instructor's repository, the submissions or the output
   folder), write access only to its own run folder, no TCP, and (ABI >= 6, Linux >= 6.12) no
   signals to, and no abstract Unix sockets of, any process outside the domain -- so it cannot
   kill the grader, its supervisor or another submission's worker;
3. reports ``{"event": "started", "pid": ...}`` and ``{"event": "exited", ...}`` on stdout;
4. when its stdin closes (the grader is done with the submission, or died), or its wall-time limit
   passes, kills every descendant (a ``/proc`` scan of the process tree, repeated until nothing is
   left, plus the cgroup's members), reaps them, reports ``{"event": "done", "killed": N}`` and exits.

:func:`probe` says which of these layers the machine supports; the batch grader puts it in its report.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import sys
import time

__all__ = ["probe", "landlock_abi", "allowed_read_paths", "descendants", "main"]

# ----------------------------------------------------------------------------- Landlock (linux/landlock.h)
_SYS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446), "riscv64": (444, 445, 446)}
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_REMOVE_DIR, FS_REMOVE_FILE, FS_MAKE_CHAR, FS_MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
FS_MAKE_REG, FS_MAKE_SOCK, FS_MAKE_FIFO, FS_MAKE_BLOCK, FS_MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ = FS_READ_FILE | FS_READ_DIR
READ_EXEC = READ | FS_EXECUTE
WRITE = (READ | FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SYM
         | FS_MAKE_FIFO | FS_MAKE_SOCK | FS_REFER | FS_TRUNCATE)

PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 24, 28, 36, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _syscall_numbers():
    return _SYS.get(os.uname().machine)


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers (0 when it has none or Landlock is disabled)."""
    numbers = _syscall_numbers()
    if numbers is None or not sys.platform.startswith("linux"):
        return 0
    try:
        version = _lib().syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock_restrict(rules) -> int:
    """Confine this process (and everything it starts) to ``rules``: ``[(path, rights), ...]``.

    Everything not granted is denied; with ABI >= 4 all TCP binds/connects, with ABI >= 6 signals
    and abstract Unix sockets beyond the domain. Returns the ABI used; raises ``OSError`` on failure.
    """
    abi = landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available")
    create, add, restrict = _syscall_numbers()
    libc = _lib()
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled, (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                        (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path that does not exist on this machine grants nothing
            try:
                is_dir = os.path.isdir(f"/proc/self/fd/{fd}")
                allowed = (rights if is_dir else rights & _FILE_RIGHTS) & handled
                rule = _PathBeneathAttr(allowed, fd)
                if libc.syscall(add, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule),
                                ctypes.c_uint32(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


# ----------------------------------------------------------------------------- which paths a worker may read
SYSTEM_ROOTS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _allow_except(root: str, hidden: list, out: list, depth: int = 0) -> None:
    """Add ``(root, READ_EXEC)`` to ``out`` unless a hidden path is inside it. A directory that holds a
    hidden path gets ``READ_DIR`` only (its names may be listed, so imports from it work) and its
    entries are added one by one (symbolic links skipped: they resolve to paths governed by their own
    rules)."""
    try:
        real = os.path.realpath(root)
    except OSError:
        return
    if depth == 0:
        # a root given explicitly (a venv inside the hidden repository) is allowed, so the hidden paths
        # that contain it do not count below it; the hidden paths inside it still do
        hidden = [h for h in hidden if not _inside(real, h)]
    if not os.path.exists(real) or any(_inside(real, h) for h in hidden):
        return
    if not any(_inside(h, real) for h in hidden if h != real):
        out.append((real, READ_EXEC))
        return
    if depth > 12 or not os.path.isdir(real):
        return
    out.append((real, FS_READ_DIR))
    try:
        entries = sorted(os.listdir(real))
    except OSError:
        return
    for name in entries:
        path = os.path.join(real, name)
        if not os.path.islink(path):
            _allow_except(path, hidden, out, depth + 1)


def allowed_read_paths(python_dirs, hidden) -> list:
    """``[(path, rights), ...]``: what a worker may read (and execute): the system roots and
    ``python_dirs``, minus every path in ``hidden`` and anything inside it."""
    hidden = sorted({os.path.realpath(h) for h in hidden if h})
    out: list = []
    for root in list(SYSTEM_ROOTS) + [d for d in python_dirs if d]:
        _allow_except(root, hidden, out)
    return sorted(set(out))


# ----------------------------------------------------------------------------- process trees
def _parents() -> dict:
    """pid -> parent pid of every process /proc shows."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        try:
            fields = stat[stat.rindex(b")") + 2:].split()
            out[int(name)] = int(fields[1])
        except (ValueError, IndexError):
            continue
    return out


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, their children, ...)."""
    children: dict = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _cgroup_members(cgroup) -> list[int]:
    if not cgroup:
        return []
    try:
        with open(os.path.join(cgroup, "cgroup.procs")) as fh:
            return [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        return []


def kill_tree(cgroup=None, rounds: int = 400) -> int:
    """SIGKILL every descendant of this process (and the cgroup's members) until none is left; reap them."""
    me, killed = os.getpid(), set()
    for _ in range(rounds):
        victims = [p for p in set(descendants(me)) | set(_cgroup_members(cgroup)) if p != me]
        _reap()
        if not victims:
            break
        for p in victims:
            try:
                os.kill(p, signal.SIGKILL)
                killed.add(p)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)
        _reap()
    return len(killed)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ----------------------------------------------------------------------------- confinement of the worker
def _drop_capabilities() -> None:
    """As root: empty the bounding, ambient, effective, permitted and inheritable capability sets,
    so the uid-0 worker is an ordinary process (file access is still bounded by Landlock)."""
    libc = _lib()
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_SET_SECUREBITS, 0x2F, 0, 0, 0)  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, and locked

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _make_cgroup(config) -> str | None:
    """A pids cgroup (v1 ``/sys/fs/cgroup/pids`` or v2 with the pids controller) limiting the worker's
    process count, where this process may create one; ``None`` otherwise."""
    limit = int(config.get("max_processes") or 0)
    if limit <= 0:
        return None
    name = f"course-grade-{os.getpid()}"
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        path = os.path.join(base, name)
        try:
            if not os.path.exists(os.path.join(base, "cgroup.procs")):
                continue
            os.mkdir(path)
        except OSError:
            continue
        try:
            with open(os.path.join(path, "pids.max"), "w") as fh:
                fh.write(str(limit))
            return path
        except OSError:
            try:
                os.rmdir(path)
            except OSError:
                pass
    return None


def _limit(which, value) -> None:
    if value is None:
        return
    value = int(value)
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(which)
        if hard == resource.RLIM_INFINITY or value <= hard:
            resource.setrlimit(which, (value, hard))


def _user_processes(uid: int) -> int:
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _confine_and_exec(config, cgroup) -> None:
    """In the forked worker: confine, then exec the worker interpreter. Never returns."""
    try:
        os.setsid()
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as fh:
                fh.write(str(os.getpid()))
        log = os.open(config["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        keep = sorted(int(fd) for fd in config["fds"])
        for fd in keep:
            os.set_inheritable(fd, True)
        os.closerange(3, keep[0]) if keep else os.closerange(3, 1 << 16)
        for a, b in zip(keep, keep[1:] + [1 << 16]):
            os.closerange(a + 1, b)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too much output: writes fail, the process lives
        limits = config["limits"]
        _limit(resource.RLIMIT_CORE, 0)
        _limit(resource.RLIMIT_AS, limits.get("memory_bytes"))
        _limit(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
        _limit(resource.RLIMIT_CPU, limits.get("cpu_seconds"))
        _limit(resource.RLIMIT_NOFILE, limits.get("open_files"))
        if limits.get("processes") and os.getuid() != 0:
            _limit(resource.RLIMIT_NPROC, _user_processes(os.getuid()) + int(limits["processes"]))
        if os.geteuid() == 0:
            _drop_capabilities()
        if config.get("landlock"):
            rules = [(p, int(r)) for p, r in config["read"]]
            rules += [(p, WRITE) for p in config["write"]]
            rules += [("/proc", READ), ("/sys", READ), ("/dev", READ), ("/dev/null", READ | FS_WRITE_FILE)]
            landlock_restrict(rules)
        else:
            _lib().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        os.chdir(config["cwd"])
        os.execve(config["argv"][0], config["argv"], config["env"])
    except BaseException as err:  # nothing may run unconfined: report and stop
        try:
            os.write(2, f"sandbox: could not confine the worker: {type(err).__name__}: {err}\n".encode())
        finally:
            os._exit(111)


# ----------------------------------------------------------------------------- probe
def probe() -> dict:
    """What this machine offers: ``{"landlock_abi": int, "signals_scoped": bool, "tcp_blocked": bool,
    "subreaper": bool, "root": bool, "nproc_limit": bool}``."""
    abi = landlock_abi()
    return {"landlock_abi": abi, "filesystem": abi >= 1, "signals_scoped": abi >= 6, "tcp_blocked": abi >= 4,
            "subreaper": sys.platform.startswith("linux"), "root": os.geteuid() == 0,
            "nproc_limit": os.geteuid() != 0}


# ----------------------------------------------------------------------------- supervisor
def _emit(event: dict) -> None:
    try:
        os.write(1, (json.dumps(event) + "\n").encode())
    except OSError:
        pass


def main() -> int:
    line = sys.stdin.buffer.readline()
    try:
        config = json.loads(line)
    except ValueError:
        _emit({"event": "error", "message": "bad configuration"})
        return 2
    libc = _lib()
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        _emit({"event": "error", "message": "PR_SET_CHILD_SUBREAPER failed"})
        return 2
    cgroup = _make_cgroup(config) if os.geteuid() == 0 else None
    deadline = time.monotonic() + float(config.get("wall_seconds", 600))
    pid = os.fork()
    if pid == 0:
        _confine_and_exec(config, cgroup)
    for fd in config["fds"]:
        try:
            os.close(int(fd))
        except OSError:
            pass
    _emit({"event": "started", "pid": pid, "cgroup": bool(cgroup)})
    stdin, running = sys.stdin.buffer.fileno(), True
    while True:
        if running:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done == pid:
                running = False
                _emit({"event": "exited", "code": os.waitstatus_to_exitcode(status)})
        left = deadline - time.monotonic()
        if left <= 0:
            _emit({"event": "wall_time"})
            break
        ready, _, _ = select.select([stdin], [], [], min(0.1, left))
        if ready:
            try:
                data = os.read(stdin, 4096)
            except OSError:
                data = b""
            if not data or b"kill" in data:
                break
    killed = kill_tree(cgroup)
    if cgroup:
        for _ in range(50):
            try:
                os.rmdir(cgroup)
                break
            except OSError:
                time.sleep(0.01)
    _emit({"event": "done", "killed": killed})
    return 0


if __name__ == "__main__":
    sys.exit(main())
