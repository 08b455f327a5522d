"""The engine's clock: UTC instants for records, Hong Kong dates for rules and deadlines.

Everything that needs "now" asks here, so tests freeze one clock (time-machine).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

HK = ZoneInfo("Asia/Hong_Kong")


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC text with microseconds and a Z, the format every stored timestamp uses."""
    # isoformat is ~10x cheaper than strftime and gives the same text for years 1000-9999.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def today_hk(moment: datetime | None = None) -> date:
    return (moment or now_utc()).astimezone(HK).date()
