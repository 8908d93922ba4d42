"""The key of the book's execution cache: a hash of ``course_lib``'s content (code and shipped data).

jupyter-cache re-executes a notebook only when its own code changes; ``make book`` and ``make test`` drop the
cache whenever this key changes, so every chapter is executed again against a changed library. Standard
library only (``make`` calls it before anything is installed), and the same on Linux, macOS and Windows:

    python tools/cache_key.py [LIBDIR]      # prints 16 hex digits

The key is the first 16 hex digits of the SHA-256 of the lines ``<sha256 of file>  <path>`` for every file
under LIBDIR (paths relative to it, ``/``-separated, sorted bytewise; ``__pycache__`` and ``*.pyc`` left out):
what ``find -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum`` gives, so keys made by the
earlier shell version stay valid.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def library_files(libdir: Path) -> list[str]:
    """Every file under ``libdir`` except bytecode, as sorted ``/``-separated relative paths."""
    rels = []
    for path in libdir.rglob("*"):
        rel = path.relative_to(libdir)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            rels.append(rel.as_posix())
    return sorted(rels, key=lambda r: r.encode("utf-8"))


def cache_key(libdir: str | Path) -> str:
    libdir = Path(libdir)
    if not libdir.is_dir():
        raise ValueError(f"cache_key: expected the course_lib folder; {str(libdir)!r} is not a directory")
    listing = hashlib.sha256()
    for rel in library_files(libdir):
        digest = hashlib.sha256((libdir / rel).read_bytes()).hexdigest()
        listing.update(f"{digest}  {rel}\n".encode("utf-8"))
    return listing.hexdigest()[:16]


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: python tools/cache_key.py [LIBDIR]", file=sys.stderr)
        return 2
    try:
        print(cache_key(args[0] if args else "course_lib"))
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
