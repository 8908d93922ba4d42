"""_toc.yml lists exactly the chapters that exist (only TOC files are built, so a missing entry hides a chapter)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))
            for part in e.get("parts", []) if isinstance(e, dict) else []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def _resolve(entry):
    for ext in (".ipynb", ".md"):
        p = ROOT / f"{entry}{ext}"
        if p.exists():
            return p
    return None


def test_every_toc_entry_exists():
    missing = [f for f in _toc_files() if _resolve(f) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_chapter_notebook_is_in_the_toc():
    listed = {_resolve(f) for f in _toc_files()}
    unlisted = [p.name for p in (ROOT / "book").glob("*.ipynb") if p not in listed]
    assert not unlisted, f"book/ notebooks missing from _toc.yml (they would not be built): {unlisted}"


def test_toc_is_in_chapter_order():
    names = [Path(f).name for f in _toc_files() if Path(f).name[:2].isdigit()]
    assert names == sorted(names), f"_toc.yml chapters out of order: {names}"
