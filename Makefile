# Two commands do all the set-up on a fresh machine:
#   make book   -> .venv + requirements + course_lib (editable), executes the chapters, builds _build/html
#   make test   -> same set-up, then every test: lint, library, grading, workflow, nbval over every notebook,
#                  book build (each chapter is executed once: by nbval, and the book renders those outputs)
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
# Where pip gets torch (requirements.txt pins the version). Empty: pip's own index (PyPI), whose torch for
# x86-64 Linux is the CUDA build with several GB of nvidia-* wheels. For the CPU-only build:
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
# The course's rule "every chapter runs in under two minutes", enforced per notebook (kernel start included)
# under nbval by pytest-timeout: 120 s of wall time where CI=true (a machine doing nothing else), twice that
# elsewhere, where other programs share the cores (measured on a busy 2-core machine: 04_gradients 129 s).
NB_TIMEOUT ?= $(if $(CI),120,240)
PYTHON_MIN := 3.11
CACHE   := _build/.jupyter_cache

.PHONY: book test setup browser student clean help cache-key exec-cache lint pdf python-check

help:
	@echo "make book  - build the HTML book into _build/html (sets itself up)"
	@echo "make test  - run every test: lint, library, grading, nbval over all notebooks, book build"
	@echo "make pdf   - build the book as a PDF with LaTeX (_build/latex/book.pdf)"

# numpy==2.4.6 (requirements.txt) needs Python >= 3.11: say so before pip fails halfway with a resolver error.
python-check:
	@py=$$(test -x $(PY) && echo $(PY) || echo $(PYTHON)); \
	if ! command -v "$$py" >/dev/null 2>&1; then \
	  echo "ERROR: '$$py' not found. The course needs Python >= $(PYTHON_MIN): make ... PYTHON=python3.12" >&2; exit 1; fi; \
	if ! "$$py" -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(PYTHON_MIN)".split("."))))'; then \
	  echo "ERROR: the course needs Python >= $(PYTHON_MIN) (the pinned numpy does); '$$py' is" \
	       "$$("$$py" -c 'import platform; print(platform.python_version())')." >&2; \
	  echo "       Install a newer Python and run e.g. 'make test PYTHON=python3.12'" \
	       "(delete $(VENV) if it was made with the old one)." >&2; exit 1; fi

$(STAMP): requirements.txt pyproject.toml
	@$(MAKE) -s --no-print-directory python-check PYTHON="$(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install -q --disable-pip-version-check --index-url $(TORCH_INDEX) \
	  "$$(grep -E '^torch==' requirements.txt)")
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
	@$(PYTHON) tools/cache_key.py $(LIBDIR)

exec-cache: $(STAMP)
	@h=$$($(PY) tools/cache_key.py $(LIBDIR)) || exit 1; \
	if [ "$$(cat _build/.course_lib_hash 2>/dev/null)" != "$$h" ]; then \
	  echo "course_lib changed ($$h): clearing the execution cache"; rm -rf $(CACHE) _build/.doctrees; fi; \
	mkdir -p _build && echo "$$h" > _build/.course_lib_hash

BOOKENV := COURSE_STATIC_BOOK=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

book: exec-cache
	$(BOOKENV) $(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

# The browser test needs Debian's chromium + chromedriver (never a browser download). Installed with apt only
# when missing, as root, where apt-get exists; otherwise (or if the install fails) the browser test skips.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium + chromedriver with apt-get"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	    >/dev/null) || echo "NOTE: apt-get could not install chromium: the browser test will be skipped"; \
	else echo "NOTE: chromium not installed and apt-get unavailable: the browser test will be skipped"; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# One BLAS/OpenMP thread per pytest worker: JOBS workers share the cores instead of oversubscribing them
# (on the 2-core CI machine two workers with two torch threads each ran several times slower).
# Two pytest runs, so that every chapter is executed once:
#   1. nbval over the chapters in the book's environment; each chapter that passes is stored, outputs and all,
#      in the book's execution cache (tools/notebooks.py --book-cache);
#   2. everything else: ruff, actionlint, the library, the graders, nbval over the exercises (live kernel:
#      widgets and live bars), and tests/test_book.py, whose `make book` now renders the cached chapters.
# Both run even if the first fails; the slowest notebooks are listed at the end.
PYTEST  := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/pytest -n $(JOBS) --dist loadscope -p no:cacheprovider
NBVAL   := --nbval-lax --nbval-current-env --notebook-timeout=$(NB_TIMEOUT) --notebook-times=_build/notebook-times.json
test: exec-cache browser
	@rm -f _build/notebook-times.json; rc=0; \
	echo "== make test 1/2: the chapters under nbval, kept for the book"; \
	COURSE_STATIC_BOOK=1 $(PYTEST) $(NBVAL) --book-cache=$(CACHE) book || rc=$$?; \
	echo "== make test 2/2: lint, workflow, library, grading, exercises under nbval, book build"; \
	COURSE_EXPECT_CACHED_BOOK=$$([ $$rc = 0 ] && echo 1 || echo 0) \
	  $(PYTEST) $(NBVAL) --ignore=exercises/student tests exercises || rc=$$?; \
	exit $$rc

# The book as a PDF: Sphinx's LaTeX through xelatex (sphinx-jupyterbook-latex's choice), from Debian's packages,
# installed with apt where they are missing and apt-get can (root). About a minute once the chapters are cached.
TEX_PKGS := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex latexmk xindy \
            fonts-freefont-otf
pdf: exec-cache
	@if command -v latexmk >/dev/null && command -v xelatex >/dev/null && command -v xindy >/dev/null && \
	    fc-list 2>/dev/null | grep -q FreeSerif; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing LaTeX with apt-get: $(TEX_PKGS)"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PKGS) >/dev/null; \
	else echo "ERROR: make pdf needs LaTeX: apt-get install $(TEX_PKGS)" >&2; exit 1; fi
	@rm -rf _build/latex      # latexmk trusts its own state even after a failed run
	$(BOOKENV) $(VENV)/bin/jupyter-book build . --builder pdflatex --keep-going
	@echo "PDF: $(CURDIR)/_build/latex/book.pdf"

# Regenerate the student versions of the exercises (solutions removed) into exercises/student/.
student: $(STAMP)
	$(PY) -m course_lib.grading release

clean:
	rm -rf _build .pytest_cache
