# Two commands for users: `make lab` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONHASHSEED := 0

.PHONY: lab test venv release golden html bench-grade test-class sandbox clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## Start JupyterLab on the student notebooks (prints the URL; works headless).
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks --no-browser --ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

## Run the whole test suite (unit, property, doctests, golden tables, notebooks).
test: $(STAMP) sandbox
	$(BIN)/python -m pytest

## Regenerate notebooks/ and the answer key from solutions/.
release: $(STAMP)
	$(BIN)/python -m helpers release

## Render the worked solutions to self-contained HTML in build/html (maths as MathML, offline).
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
	$(BIN)/python -m pytest tests/test_golden.py --update-golden -p no:nbval

clean:
	rm -rf $(VENV) build *.egg-info
