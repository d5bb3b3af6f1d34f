"""Give start-up's garbage back to the system, and keep the collector off the long-lived objects.

healerd's memory is taken from the services it protects. Start-up (migrations, parsing and validating
every policy file) leaves freed memory in glibc's heap that a long-running daemon would otherwise keep
as RSS for its whole life; `malloc_trim(0)` returns it. `gc.freeze()` moves everything alive after
start-up (config models, breakers, imported modules) out of the collector's reach, so full
collections stop re-walking tens of thousands of objects that never die.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

import structlog

log = structlog.get_logger(__name__)


def _libc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_TRIM = _libc_trim()


def settle() -> None:
    """Call once start-up (or a reload) is done. What a reload replaced is unfrozen and collected
    first, so a cycle in an old config cannot stay frozen forever."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    if _TRIM is not None:
        _TRIM(0)
