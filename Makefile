# Developer and packaging shortcuts. The tests do not need make: see the README's Quick start.
PYTHON ?= .venv/bin/python
MAN_DIR ?= man
PREFIX ?= /usr/local

.PHONY: man install-man

# healerd(1), generated from the CLI's own help (daemon/cli/_manpage.py), so it lists exactly the
# commands and options this checkout has. `man -l man/healerd.1` reads it in place.
man:
	$(PYTHON) -m daemon.cli._manpage -o $(MAN_DIR)/healerd.1

install-man: man
	install -D -m 0644 $(MAN_DIR)/healerd.1 $(DESTDIR)$(PREFIX)/share/man/man1/healerd.1
