# Two commands on a fresh machine with Python 3.11 (see the README's quick start):
#   make         set up .venv, fetch the datasets if absent, run every notebook, build the write-up
#   make test    set up .venv if needed, then run the tests as CI does
#
# make PROFILE=full re-renders the committed notebooks, figures, results and write-up in place.
# The default quick profile writes everything under runs/quick/ and leaves them alone.
# Finished work is not redone: the environment is rebuilt only when requirements.txt changes,
# datasets already present are not downloaded again, and a notebook reruns only when it or
# helpers/ changed since its last finished run. An interrupted notebook starts again from the top.

PROFILE ?= quick
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.requirements-installed

ifeq ($(PROFILE),quick)
OUT := runs/quick
RUN_OUTPUT := --output $(OUT)
else
OUT := .
RUN_OUTPUT :=
endif

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
HELPERS := $(shell find helpers -name "*.py")
DONE := $(patsubst notebooks/%.ipynb,$(OUT)/.done/$(PROFILE)/%,$(NOTEBOOKS))

.PHONY: fast fast-refine fast-refine-2 all env data notebooks writeup test mutation release clean-runs web web-deps
all: writeup

env: $(ENV_STAMP)
$(ENV_STAMP): requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: install it, or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -r requirements.txt
	@touch $@

data: $(ENV_STAMP)
	$(PY) -m helpers download all

notebooks: $(DONE)
$(OUT)/.done/$(PROFILE)/%: notebooks/%.ipynb $(HELPERS) | data
	@mkdir -p $(@D)
	@if [ -e $@.started ]; then echo "$*: interrupted last time, running it again from the top"; fi
	@touch $@.started
	$(PY) -m helpers notebooks --profile $(PROFILE) $(RUN_OUTPUT) $<
	@mv $@.started $@

# Notebook 4 quotes the results of notebooks 1-3 and compares with Part 3's validation points,
# and it ships a model only if it beats the one notebook 3 left: it runs after them.
NB_DONE := $(OUT)/.done/$(PROFILE)
$(NB_DONE)/04_heatmaps: $(NB_DONE)/01_nose_tip_detection $(NB_DONE)/02_full_face_keypoints \
	$(NB_DONE)/03_ibug_resnet18

# The page's screenshot (figures/writeup_page.png) is made with it where Chromium is installed,
# so the picture always shows the page as built.
SCREENSHOT := $(if $(shell command -v chromedriver),--screenshot)
writeup: $(OUT)/writeup/index.html
$(OUT)/writeup/index.html: $(DONE) $(HELPERS)
	$(PY) -m helpers writeup --root $(OUT) $(SCREENSHOT)
	@echo "open $(OUT)/writeup/index.html in a browser"

# The browser demo's runtime, ONNX Runtime Web from npm at the version web/package-lock.json pins
# (Node and npm from Debian's packages where missing); reinstalled only when the lockfile changes.
WEB_STAMP := web/node_modules/.package-lock.json
web-deps: $(WEB_STAMP)
$(WEB_STAMP): web/package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

# The browser demo, served on http://127.0.0.1:8000/ (python -m helpers web --help)
web: env web-deps
	$(PY) -m helpers web

# A skipped test fails the run, as in CI: a skip means data or the browser check went untested.
test: data web-deps
	FKD_FAIL_ON_SKIP=1 $(PY) -m pytest -rs

# Mutation testing of the functions where a wrong line is silently wrong (tools/mutation.py):
# scores per module and the surviving mutants (about half an hour on two cores).
mutation: data
	$(PY) tools/mutation.py

# The release training of the shipped model: resumable, so an interrupted run is
# finished by running it again. RELEASE=quick for a one-minute check under runs/release-quick/;
# RELEASE=refine trains on from the shipped model's weights (config.RELEASES["refine"]).
RELEASE ?= full
release: data
	$(PY) -m helpers release --profile $(RELEASE)

# The fast model, distilled from the shipped one: resumable likewise.
fast: data
	$(PY) -m helpers release --profile fast

# ...then trained on from its shipped weights for 100 more epochs (its loss still fell at 60).
fast-refine: data
	$(PY) -m helpers release --profile fast-refine

# ...and 100 more at half the learning rate (it still underfit after 160).
fast-refine-2: data
	$(PY) -m helpers release --profile fast-refine-2

clean-runs:
	rm -rf runs/ mutants/
