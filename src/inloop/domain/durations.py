"""Durations as people write them: ``30s``, ``15m``, ``4h``, ``7d``, ``1h30m``, or ``PT4H``."""

from __future__ import annotations

import re
from datetime import timedelta

MAX_DURATION = timedelta(days=365)
MAX_LENGTH = 40
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_SHORT = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.IGNORECASE
)


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise ``ValueError`` saying what is accepted when it does not parse."""
    value = text.strip()
    if len(value) > MAX_LENGTH:
        raise ValueError(f"{text[:MAX_LENGTH]!r}... is too long to be a duration")
    seconds = _parse_iso(value) if value[:1].upper() == "P" else _parse_short(value)
    if seconds is None:
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit such as 30s, 15m, 4h, 7d "
            "(or 1h30m), or ISO 8601 such as PT4H"
        )
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    # Compared as a number first: timedelta itself overflows past 999,999,999 days.
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r} is too long: a duration is at most 365 days")
    return timedelta(seconds=seconds)


def _parse_short(value: str) -> float | None:
    match = _SHORT.fullmatch(value.lower())
    if not value or match is None:
        return None
    return sum(int(n) * _UNITS[u] for n, u in zip(match.groups(), "wdhms", strict=True) if n)


def _parse_iso(value: str) -> float | None:
    match = _ISO.fullmatch(value)
    if match is None or value.upper() in ("P", "PT") or value.upper().endswith("T"):
        return None
    weeks, days, hours, minutes, secs = match.groups()
    return (
        int(weeks or 0) * 604800
        + int(days or 0) * 86400
        + int(hours or 0) * 3600
        + int(minutes or 0) * 60
        + float(secs or 0)
    )
