"""One logging pipeline for healerd and the libraries it drives.

JSON lines when stdout is not a terminal (journald keeps them as structured text), a readable console
otherwise. SQLAlchemy, Alembic and APScheduler log through the stdlib; their records are routed through
the same structlog processors so an operator sees one format. The `apscheduler` logger stays at WARNING
because at INFO it logs every run (the reference measured ~8% of a core per 1,000 runs/s).

Under systemd, stderr is a stream to journald, which stores every line at priority "info" unless the
line starts with a syslog prefix `<N>` (`SyslogLevelPrefix=`, on by default). Without it
`journalctl -p warning` shows everything. So when stderr *is* the journal stream — `$JOURNAL_STREAM`
names its device and inode, which is how systemd says so (sd_journal_stream_fd(3), systemd.exec(5)) —
each line gets its record's prefix and journald strips it; the JSON payload is unchanged. Matching the
inode, not just seeing the variable, matters: a child of a service inherits `$JOURNAL_STREAM` even when
its stderr goes to a file or a pipe, where a prefix would only be noise.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

#: library loggers and the lowest level each is allowed to emit at.
_LIBRARY_FLOORS = {
    "apscheduler": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "alembic": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "watchfiles": logging.WARNING,
    "asyncio": logging.WARNING,
}


#: stdlib level → syslog priority (sd-daemon(3): 2 crit, 3 err, 4 warning, 6 info, 7 debug).
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def syslog_priority(levelno: int) -> int:
    return next((prio for floor, prio in _PRIORITIES if levelno >= floor), 7)


def is_journal_stream(stream: TextIO) -> bool:
    """True when `stream` is the journald stream systemd connected (its dev:inode is `$JOURNAL_STREAM`)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # io.StringIO in tests, a closed stream
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


class _SyslogPrefixed(structlog.stdlib.ProcessorFormatter):
    """Prefixes every line of a record with its syslog priority, so journald files it at that level
    (a console traceback spans lines, and journald reads each line on its own)."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def configure_logging(level: str = "info", *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Idempotent: calling it again (e.g. after a reload changed log_level) replaces the handler.

    `json=None` is `--log-format auto`: JSON off a terminal, console on one. The syslog prefix does not
    depend on the format, only on whether the stream is journald's.
    """
    stream = stream or sys.stderr
    if json is None:
        json = not stream.isatty()

    shared: list = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    formatter_class = _SyslogPrefixed if is_journal_stream(stream) else structlog.stdlib.ProcessorFormatter
    formatter = formatter_class(
        # records that come from stdlib loggers (SQLAlchemy, Alembic, APScheduler) get the same processors
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if json else (lambda _l, _m, ev: ev),
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_healerd", False):
            root.removeHandler(old)
    handler._healerd = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level, logging.INFO))
    for name, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
