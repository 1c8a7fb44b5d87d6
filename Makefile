# The two commands of the README: `make run` and `make test`. Each installs what it needs itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 poppler-utils

.PHONY: run test test-fast system-deps lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Debian packages the browser tests and PDFs need: Chromium, CJK fonts, Pango (WeasyPrint), pdftoppm.
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

run: $(BIN)/.installed
	@dpkg -s fonts-noto-cjk >/dev/null 2>&1 || $(MAKE) --no-print-directory system-deps
	$(FLASK) init-db
	$(FLASK) demo --if-empty
	$(FLASK) run --host 127.0.0.1 --port 5000

test: $(BIN)/.installed system-deps
	$(BIN)/pytest -n auto

lint: $(BIN)/.installed
	$(BIN)/ruff check .

bench: $(BIN)/.installed
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/kiosk.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis tests/screenshots

# For developers after changing user-facing strings (not run by `make run` or `make test`): refresh
# translations/messages.pot from the code and templates, merge it into each catalog (new or changed
# strings come out empty or fuzzy: translate them in translations/<lang>/LC_MESSAGES/messages.po and
# run this again), then compile the messages.mo files, which are committed.
.PHONY: translations
translations: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --project=hallscore --add-location=file \
	  --sort-by-file --ignore-dirs='.* ._ tests migrations' -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --ignore-obsolete
	$(BIN)/pybabel compile -d translations --statistics
