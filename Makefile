# Two commands for users: `make lab` and `make test`.
# They run in the active conda environment if there is one (other than `base`);
# otherwise in .venv, which the first run builds from requirements.txt.
PYTHON ?= python3
export PYTHONHASHSEED := 0

ifneq ($(filter-out base,$(CONDA_DEFAULT_ENV)),)
ENV   := $(CONDA_PREFIX)
STAMP := conda-env
else
ENV   := .venv
STAMP := $(ENV)/.installed
endif
BIN      := $(ENV)/bin
SETTINGS := $(ENV)/share/jupyter/lab/settings/overrides.json

# $(call need-python,PYTHON,ADVICE): one line naming the Python found and the one needed.
define need-python
@v=$$($(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
case "$$v" in 3.1[1-9]|3.[2-9][0-9]) ;; *) echo "error: found $${v:+Python }$${v:-no Python}" \
  "at '$(1)'; the workbook needs Python 3.11 or newer: $(2)" >&2; exit 1;; esac
endef

.PHONY: lab test conda-env

$(ENV)/.installed: requirements.txt pyproject.toml
	$(call need-python,$(PYTHON),run 'make $(or $(MAKECMDGOALS),lab) PYTHON=python3.11')
	$(PYTHON) -m venv $(ENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

conda-env:
	$(call need-python,$(BIN)/python,run 'conda env create -f environment.yml')
	@$(BIN)/python -c 'import importlib.metadata as m; [m.version(p) for p in ("cnn-cost-workbook", "jupyterlab", "nbval", "pytest-xdist")]' 2>/dev/null \
	  || { echo "error: the active conda environment '$(CONDA_DEFAULT_ENV)' lacks the workbook's packages:" \
	       "run 'conda env update -f environment.yml', or 'conda deactivate' to use .venv" >&2; exit 1; }

# JupyterLab's "Jupyter news?" pop-up off (written once; an existing file is left alone).
$(SETTINGS): | $(STAMP)
	mkdir -p $(dir $@)
	printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

## Start JupyterLab on the notebooks (prints the URL; works headless).
lab: $(STAMP) $(SETTINGS)
	$(BIN)/jupyter lab --notebook-dir=notebooks --no-browser --ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

## Run the tests (the notebooks top to bottom, and more).
test: $(STAMP)
	$(BIN)/python -m pytest

# ---- instructor targets: the student hand-out's Makefile is the part above this line ----
.PHONY: venv lint release golden html bench-grade test-class sandbox clean

venv: $(STAMP)

## Lint the package and the tests (ruff; its settings are in pyproject.toml). CI runs it.
lint: $(STAMP)
	$(BIN)/ruff check helpers tests conftest.py

## Regenerate notebooks/ and the answer key from solutions/.
release: $(STAMP)
	$(BIN)/python -m helpers release

## Render the worked solutions to self-contained HTML in build/html (maths as MathML, offline).
## Refuses if build/html holds files it did not write.
html: $(STAMP)
	$(BIN)/python -m helpers html --out build/html

## Grading throughput: 50 copies of one worked notebook, two at a time.
bench-grade: $(STAMP) sandbox
	$(BIN)/python -m helpers grade --benchmark 50 --jobs 2

## Grade the whole generated class (60 honest and hostile submissions) twice, under bubblewrap (minutes).
test-class: $(STAMP) sandbox
	WORKBOOK_CLASS=1 $(BIN)/python -m pytest tests/grading/test_class.py -n0 -p no:randomly

## The grading sandbox: install bubblewrap if it is missing and we can (root with apt-get), else say how.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; } \
	      || echo "could not install bubblewrap: grading will NOT be isolated"; \
	  else echo "bubblewrap (bwrap) is missing: grading will NOT be isolated; install it (Debian/Ubuntu: sudo apt-get install bubblewrap, Fedora: sudo dnf install bubblewrap)"; fi; }

## Rewrite tests/golden/ from the current helpers (review the diff!).
golden: $(STAMP)
	$(BIN)/python -m pytest tests/integration/test_golden.py --update-golden -p no:nbval

clean:
	rm -rf .venv build *.egg-info
