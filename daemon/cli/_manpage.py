"""healerd(1), generated from the CLI's own click tree: `python -m daemon.cli._manpage [-o FILE]`.

Generated, never written by hand, so the manual cannot drift from `healerd --help`: every command and
subcommand that `healerd` has when this runs (verbs are discovered from daemon/cli/, see main.py), with
its usage line, help and options. Only the closing sections (environment, files, exit status, shell
completion) are prose kept here, because the CLI's help has no place for them. `make man` runs it.
The leading underscore keeps this module out of verb discovery: it is a build tool, not a verb.

Why not click-man: it writes one page per subcommand (healerd-breaker-reset.1 …); for a dozen verbs
one page that `man healerd` opens and `/breaker` searches serves an operator better.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from collections.abc import Iterator

import click

from daemon import __version__
from daemon.cli.main import cli


def escape(text: str) -> str:
    """Roff-safe text: backslashes escaped, hyphens literal, non-ASCII as `\\[uXXXX]` (troff reads
    bytes, not UTF-8, unless a preprocessor runs), and no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n"))


def bold(text: str) -> str:
    return f"\\fB{escape(text)}\\fR"


def paragraphs(help_text: str | None) -> str:
    """click help → roff: blank-line paragraphs re-flow; a `\\b` paragraph keeps its line breaks."""
    out = []
    for block in inspect.cleandoc(help_text or "").split("\n\n"):
        if not block.strip():
            continue
        if block.startswith("\b"):
            out.append(".PP\n.nf\n" + escape(block[1:].strip("\n")) + "\n.fi")
        else:
            out.append(".PP\n" + escape(" ".join(block.split())))
    return "\n".join(out)


def walk(command: click.Command, ctx: click.Context) -> Iterator[tuple[click.Command, click.Context]]:
    """Every command below `command`, depth first in `list_commands` order (what --help lists)."""
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            yield sub, sub_ctx
            yield from walk(sub, sub_ctx)


def options(command: click.Command, ctx: click.Context, *, with_help: bool = True) -> str:
    """One tagged paragraph per option, as --help lists them; arguments are in the usage line, and
    --help itself is listed once, for the top level."""
    out = []
    help_names = set(ctx.help_option_names)
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or (not with_help and help_names & set(param.opts)):
            continue
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        names, help_text = record
        out.append(f".TP\n{bold(names)}\n{escape(help_text) if help_text else ''}".rstrip())
    return "\n".join(out)


def usage(ctx: click.Context) -> str:
    return " ".join([ctx.command_path, *ctx.command.collect_usage_pieces(ctx)])


STATIC = r"""
.SH "SHELL COMPLETION"
Completion for bash, zsh and fish comes from click: the shell asks
.B healerd
itself, so it always knows the current verbs and options.
.PP
.nf
bash:  eval "$(_HEALERD_COMPLETE=bash_source healerd)"          # in ~/.bashrc
zsh:   eval "$(_HEALERD_COMPLETE=zsh_source healerd)"           # in ~/.zshrc
fish:  _HEALERD_COMPLETE=fish_source healerd > ~/.config/fish/completions/healerd.fish
.fi
.SH ENVIRONMENT
.TP
.B HEALERD_CONFIG
The config directory when \fB\-\-config\fR is not given; else \fB$CONFIGURATION_DIRECTORY\fR (set by
systemd), else \fI/etc/healerd\fR.
.TP
.B HEALERD_DB
The database when \fB\-\-db\fR is not given; else \fB$STATE_DIRECTORY\fR/healerd.db, else
\fI/var/lib/healerd/healerd.db\fR.
.TP
.B JOURNAL_STREAM
Set by systemd. When it names stderr, every log line starts with its syslog priority (\fB<4>\fR for
a warning), so \fBjournalctl \-p\fR filters by level.
.TP
.B NOTIFY_SOCKET
Set by systemd for a Type=notify service: READY, STATUS, WATCHDOG, RELOADING and STOPPING go there.
.SH FILES
.TP
.I /etc/healerd/healerd.toml
Daemon settings, notify channels, retention, degradation.
.TP
.I /etc/healerd/policies.d/*.toml
Components (check, breaker, recovery ladder) and checkpoints; also .yaml.
.TP
.I /etc/healerd/experiments.d/*.toml
Chaos experiments.
.TP
.I /var/lib/healerd/healerd.db
Everything healerd records; its SQL views are the reports (\fBhealerd report \-\-list\fR).
.SH "EXIT STATUS"
.TP
.B 0
Success.
.TP
.B 1
Validation or the command failed.
.TP
.B 2
Usage error (an unknown option or value).
.TP
.B 3
\fBhealerd run\fR cannot start: invalid config, a database it cannot migrate, another daemon on the same
database.
.TP
.B 4
\-\-db names no file, a directory, a file this user cannot read, or a SQLite file that is not healerd's
(every verb but \fBrun\fR, which exits 3).
.PP
\fBhealerd check \-\-run\fR exits like a Nagios plugin instead: 0 healthy, 1 degraded, 2 unhealthy,
3 unknown.
.SH "SEE ALSO"
.BR systemctl (1),
.BR journalctl (1),
.BR sqlite3 (1).
The README has the config reference.
"""


def render(group: click.Group = cli, *, name: str = "healerd", date: str | None = None) -> str:
    """The whole page. `date` defaults to $SOURCE_DATE_EPOCH (reproducible builds), else today."""
    if date is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        date = time.strftime("%Y-%m-%d", time.gmtime(int(epoch) if epoch else None))
    ctx = click.Context(group, info_name=name)
    summary = inspect.cleandoc(group.help or "").split("\n")[0]
    if summary.lower().startswith(f"{name}:"):
        summary = summary.split(":", 1)[1].strip()
    lines = [
        f'.TH {name.upper()} 1 "{date}" "{name} {__version__}" "User Commands"',
        ".SH NAME",
        f"{name} \\- {escape(summary)}",
        ".SH SYNOPSIS",
        escape(usage(ctx)),
        ".SH DESCRIPTION",
        paragraphs(group.help),
        ".SH OPTIONS",
        options(group, ctx),
        ".SH COMMANDS",
    ]
    for command, sub_ctx in walk(group, ctx):
        lines.append(f'.SS "{escape(usage(sub_ctx))}"')
        lines.append(paragraphs(command.help or command.short_help))
        if not isinstance(command, click.Group):
            lines.append(options(command, sub_ctx, with_help=False))
    return "\n".join(line for line in lines if line) + STATIC


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write healerd(1) from the CLI's own help.")
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    page = render()
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(page)
    else:
        sys.stdout.write(page)


if __name__ == "__main__":
    main()
