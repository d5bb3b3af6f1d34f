"""The `healerd` command: one click group, one module per verb group.

Each module of daemon/cli/ (other than this one) lists its top-level commands in a `COMMANDS` tuple;
the group finds them on first use, so adding a verb group is adding one file and nobody edits a shared
list. Typed errors raised below the CLI are turned into one-line messages here (like sqlite-utils), so
a traceback only ever means a bug.
"""

from __future__ import annotations

import importlib
import sys

import click

from daemon import __version__
from daemon.errors import HealerdError


class HealerdGroup(click.Group):
    _discovered = False

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        import pkgutil  # only here: a verb found by the fast path in get_command never needs it

        import daemon.cli as package

        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if info.name.startswith("_") or info.name == "main":
                continue
            module = importlib.import_module(f"daemon.cli.{info.name}")
            for command in getattr(module, "COMMANDS", ()):
                self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._discover()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Fast path: a verb usually lives in the module of its name (`report` in report.py), so running
        # one imports that module alone, not every verb's dependencies; `healerd report` starts in
        # ~100 ms instead of ~500 (issue 11). Anything else falls back to discovering every module.
        if (
            cmd_name not in self.commands
            and not self._discovered
            and cmd_name.isidentifier()
            and not cmd_name.startswith("_")
        ):
            try:
                module = importlib.import_module(f"daemon.cli.{cmd_name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"daemon.cli.{cmd_name}":
                    raise
            else:
                for command in getattr(module, "COMMANDS", ()):
                    self.add_command(command)
        if cmd_name not in self.commands:
            self._discover()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HealerdError as exc:
            click.echo(f"healerd: {exc}", err=True)
            sys.exit(getattr(exc, "exit_code", 1))


@click.group(cls=HealerdGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="healerd")
def cli() -> None:
    """healerd: health checks, circuit breakers and self-healing, remembered in SQLite."""


def main() -> None:
    cli(prog_name="healerd")


if __name__ == "__main__":  # pragma: no cover
    main()
