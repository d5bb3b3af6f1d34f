"""Durations and sizes as operators write them: "250ms", "5s", "10m", "1h", "7d"; "10%", "2GB".

Bare numbers are refused on purpose: `timeout = 30` could mean seconds or milliseconds, and a wrong
guess at 3 a.m. restarts a service too early or too late.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_SIZE_BYTES = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f'a duration is a string like "5s" or "250ms", not {value!r}')
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f'{value!r} is not a duration (use a number and ms, s, m, h or d, e.g. "30s")')
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling, so a round trip through config text is lossless."""
    total_ms = round(value.total_seconds() * 1000)
    for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if total_ms and total_ms % ms == 0:
            return f"{total_ms // ms}{unit}"
    return f"{total_ms}ms"


def parse_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f'a size is a string like "2GB" or "512MiB", not {value!r}')
    if isinstance(value, int):
        raise ValueError(f'write a size with its unit, e.g. "{value}B" or "2GB"')
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f'{value!r} is not a size (e.g. "500MB", "2GB", "1GiB")')
    return int(float(match.group(1)) * _SIZE_BYTES[match.group(2).lower()])


def _positive(value: timedelta) -> timedelta:
    if value.total_seconds() <= 0:
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(lambda v: _positive(parse_duration(v))),
    PlainSerializer(format_duration, return_type=str),
]
"""A strictly positive duration written as a string."""


def _not_negative(value: timedelta) -> timedelta:
    if value.total_seconds() < 0:
        raise ValueError("must not be negative")
    return value


OptionalDuration = Annotated[
    timedelta,
    BeforeValidator(lambda v: _not_negative(parse_duration(v))),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration that may be "0s" (a floor that is off when zero)."""

Size = Annotated[int, BeforeValidator(parse_size)]
