# Two commands do all the set-up on a fresh machine:
#   make book   -> .venv + requirements + course_lib (editable), executes the chapters, builds _build/html
#   make test   -> same set-up, then the whole test suite (library, grading, nbval over every notebook, book build)
SHELL   := /bin/bash
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.course-installed
# The venv's own kernel spec comes first, so notebooks never run in another Python.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# pytest workers: 2 matches the CI machine; override with `make test JOBS=4`.
JOBS    ?= 2

.PHONY: book test setup browser student clean help cache-key

help:
	@echo "make book  - build the HTML book into _build/html (sets itself up)"
	@echo "make test  - run every test: library, grading, nbval over all notebooks, book build"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	@touch $@

setup: $(STAMP)

# jupyter-cache re-executes a notebook only when its own code changes, and Sphinx re-reads only changed
# sources, so both the execution cache and Sphinx's saved environment are dropped whenever course_lib's
# content (code or shipped data) changes: every chapter is then executed again against the new library.
LIBDIR  ?= course_lib
cache-key:
	@find $(LIBDIR) -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -printf '%P\n' | LC_ALL=C sort | \
	  (cd $(LIBDIR) && xargs sha256sum) | sha256sum | cut -c1-16

book: $(STAMP)
	@h=$$($(MAKE) -s --no-print-directory cache-key); \
	if [ "$$(cat _build/.course_lib_hash 2>/dev/null)" != "$$h" ]; then \
	  echo "course_lib changed ($$h): clearing the execution cache"; rm -rf _build/.jupyter_cache _build/.doctrees; fi; \
	mkdir -p _build && echo "$$h" > _build/.course_lib_hash
	COURSE_STATIC_BOOK=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

# The browser test needs Debian's chromium + chromedriver (never a browser download). Installed with apt
# when missing; where apt is unavailable the browser test skips and says why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium + chromedriver with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "NOTE: chromium not installed and apt-get unavailable: the browser test will be skipped"; fi

# One BLAS/OpenMP thread per pytest worker: JOBS workers share the cores instead of oversubscribing them
# (on the 2-core CI machine two workers with two torch threads each ran several times slower).
test: $(STAMP) browser
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/pytest -n $(JOBS) --dist loadscope -p no:cacheprovider \
	  --nbval-lax --nbval-current-env --ignore=exercises/student tests book exercises

# Regenerate the student versions of the exercises (solutions removed) into exercises/student/.
student: $(STAMP)
	$(PY) -m course_lib.grading release

clean:
	rm -rf _build .pytest_cache
