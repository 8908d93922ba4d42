"""The set-up cell every notebook opens with, and the tool that keeps it in sync.

The repository URL lives in one place, ``_config.yml`` (``repository.url`` and ``repository.branch``).
Every notebook's first code cell is :func:`setup_cell_source` of that URL; a test fails when one drifts,
and ``python -m course_lib.colab sync`` rewrites them (run it after changing the URL in a fork).

The cell, on Colab, pip-installs ``course_lib`` from the repository (never touching Colab's torch or
numpy) and then calls :func:`course_lib.setup`, which seeds everything and picks the GPU when present.
Locally (``google.colab`` not imported) the install step does nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

MARKER = "# Set-up (the same in every notebook)"

_TEMPLATE = '''{marker}: on Colab, install course_lib from the course repository.
import subprocess, sys
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{spec}"], check=True)
import course_lib
device = course_lib.setup(seed_value=0)'''


def install_spec(repo_url: str, branch: str = "main") -> str:
    """The pip requirement that installs course_lib from ``repo_url`` at ``branch``."""
    if not repo_url.startswith("https://"):
        raise ValueError(f"repository url must start with https://; got {repo_url!r}")
    return f"course_lib @ git+{repo_url.rstrip('/')}@{branch}"


def setup_cell_source(repo_url: str, branch: str = "main") -> str:
    """Source of the set-up cell for the repository at ``repo_url``."""
    return _TEMPLATE.format(marker=MARKER, spec=install_spec(repo_url, branch))


def repository(config_path: str | Path = "_config.yml") -> tuple[str, str]:
    """``(url, branch)`` from the book's ``_config.yml``."""
    import yaml

    cfg = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    repo = cfg.get("repository") or {}
    if "url" not in repo:
        raise ValueError(f"{config_path} has no repository.url")
    return repo["url"], repo.get("branch", "main")


def first_code_cell(nb):
    """The first code cell of a notebook (nbformat node), or None."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            return cell
    return None


def sync(paths, config_path: str | Path = "_config.yml", check: bool = False) -> list[str]:
    """Make each notebook's first code cell the set-up cell; return the paths that were (or would be) changed."""
    import nbformat

    url, branch = repository(config_path)
    want = setup_cell_source(url, branch)
    changed = []
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        cell = first_code_cell(nb)
        if cell is not None and cell.source == want:
            continue
        changed.append(str(path))
        if check:
            continue
        if cell is not None and cell.source.startswith(MARKER):
            cell.source = want
        else:
            idx = nb.cells.index(cell) if cell is not None else len(nb.cells)
            nb.cells.insert(idx, nbformat.v4.new_code_cell(want))
        nbformat.write(nb, str(path))
    return changed


def notebook_paths(root: str | Path = ".") -> list[Path]:
    """Every notebook of the book and the exercises (sources and student versions)."""
    root = Path(root)
    pats = ["book/*.ipynb", "exercises/*.ipynb", "exercises/student/*.ipynb"]
    return sorted(p for pat in pats for p in root.glob(pat))


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("sync", "check"):
        print("usage: python -m course_lib.colab {sync|check}", file=sys.stderr)
        return 2
    changed = sync(notebook_paths(), check=argv[0] == "check")
    verb = "out of sync" if argv[0] == "check" else "updated"
    for p in changed:
        print(f"{verb}: {p}")
    return 1 if (changed and argv[0] == "check") else 0


if __name__ == "__main__":
    sys.exit(main())
