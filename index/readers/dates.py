"""Publication dates as one form, `YYYY-MM-DD`, whatever form the source wrote them in.

Feeds write RFC 822 dates ("Tue, 16 Dec 2025 18:05:00 +0000"), pages and dumps ISO 8601
("2025-12-16T18:05:00Z"). A day is what the answers name and order by; a time of day would only
order two articles of one day, and sources disagree on time zones more often than on days.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST_YEAR = 1800  # older "dates" are typos or placeholders (0001-01-01)


class DateError(ValueError):
    """A date the source gives that cannot be read as one."""


def iso_day(value: object) -> str:
    """`value` as `YYYY-MM-DD`; '' for none; `DateError` naming the value when it is not a date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str):
        raise DateError(f"date {value!r} is not text; write it as 2025-12-16 or 2025-12-16T18:05:00Z")
    text = value.strip()
    day = _parse(text)
    if day is None or day.year < EARLIEST_YEAR:
        raise DateError(f"date {text[:40]!r} cannot be read; write it as 2025-12-16 or 2025-12-16T18:05:00Z")
    return day.isoformat()


def _parse(text: str) -> date | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    if _ISO_DAY.fullmatch(text[:10]):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None
