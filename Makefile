# Developer and packaging shortcuts. The tests do not need make: see the README's Quick start.
PYTHON ?= .venv/bin/python
MAN_DIR ?= man
PREFIX ?= /usr/local

.PHONY: man install-man check

# healerd(1), generated from the CLI's own help (daemon/cli/_manpage.py), so it lists exactly the
# commands and options this checkout has. `man -l man/healerd.1` reads it in place.
man:
	$(PYTHON) -m daemon.cli._manpage -o $(MAN_DIR)/healerd.1

install-man: man
	install -D -m 0644 $(MAN_DIR)/healerd.1 $(DESTDIR)$(PREFIX)/share/man/man1/healerd.1

# The code-health gate (.ci/run runs it before the tests): lint, formatting, types. mypy --strict holds
# the pure core (pyproject's [tool.healerd] pure-core: no I/O, tests/test_pure_core.py) and plain mypy
# the rest. Needs the dev extra: .venv/bin/pip install -e ".[dev]".
PURE_CORE = $(shell $(PYTHON) -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["healerd"]["pure-core"]))')
check:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy --strict --follow-imports=silent $(PURE_CORE)
	$(PYTHON) -m mypy
