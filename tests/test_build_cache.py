"""`make book`'s execution cache is keyed on course_lib's content (jupyter-cache alone only watches a
notebook's own code): the key changes when any library file changes, and only then."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _key(libdir):
    out = subprocess.run(["make", "-s", "--no-print-directory", "cache-key", f"LIBDIR={libdir}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert len(out) == 16, out
    return out


def test_cache_key_follows_course_lib_content(tmp_path):
    lib = tmp_path / "course_lib"
    shutil.copytree(ROOT / "course_lib", lib, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    k1 = _key(lib)
    assert _key(lib) == k1                                   # deterministic
    (lib / "__pycache__").mkdir(exist_ok=True)
    (lib / "__pycache__" / "x.pyc").write_bytes(b"noise")
    assert _key(lib) == k1                                   # bytecode does not count
    target = lib / "ref" / "cells.py"
    target.write_text(target.read_text() + "\n# a change\n")
    k2 = _key(lib)
    assert k2 != k1                                          # a code change re-executes the chapters
    (lib / "data" / "corpus" / "SOURCE").write_text("changed data")
    assert _key(lib) not in (k1, k2)                         # so does a change to shipped data
