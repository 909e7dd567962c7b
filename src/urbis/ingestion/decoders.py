"""Device payloads → measures: JSON shapes, timestamps, and the per-measure mapping rules.

Pure functions, written for the ingestion hot path: per measure one dictionary
lookup, a type test, the scaling and a range test.  Timestamps are parsed and
formatted once per entry (and cached, since a batch repeats instants).
Nothing here raises for bad device input: every problem becomes a
:class:`Rejection` with a reason code, and the valid measures beside it are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from urbis.ingestion.devices import BOOLEAN, NUMBER, TIMESTAMP_KEY, CompiledDevice
from urbis.ingestion.messages import Measure

# -- reason codes (dead-letter `reason`, metric label) ----------------------------------------
MALFORMED = "malformed"
UNKNOWN_DEVICE = "unknown-device"
BAD_TOKEN = "bad-token"
REVOKED = "revoked"
NOT_A_GATEWAY_MEMBER = "not-a-gateway-member"
UNKNOWN_MEASURE = "unknown-measure"
WRONG_TYPE = "wrong-type"
OUT_OF_RANGE = "out-of-range"
FUTURE_TIMESTAMP = "future-timestamp"
BAD_TIMESTAMP = "bad-timestamp"
STORAGE = "storage"
REASONS = (
    MALFORMED,
    UNKNOWN_DEVICE,
    BAD_TOKEN,
    REVOKED,
    NOT_A_GATEWAY_MEMBER,
    UNKNOWN_MEASURE,
    WRONG_TYPE,
    OUT_OF_RANGE,
    FUTURE_TIMESTAMP,
    BAD_TIMESTAMP,
    STORAGE,
)

#: Longest text measure accepted (a status text, not a document).
MAX_TEXT = 1024
_MAX_TS_TEXT = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - formats UTC instants without an offset
_MICROSECOND = timedelta(microseconds=1)
_MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - _EPOCH) // _MICROSECOND
_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a measure, an entry or a whole message was refused.

    ``index`` is the entry's position in the message (in a gateway message: in
    that device's list); None when the whole message (or a gateway member's whole
    list) was refused.  ``measure`` is the payload key, when one is to blame.
    """

    index: int | None
    measure: str | None
    reason: str
    detail: str
    device: str | None = None  # the member device, in gateway messages

    def to_json(self) -> dict[str, Any]:
        """The rejection as the ingestion API reports it."""
        out: dict[str, Any] = {
            "index": self.index,
            "measure": self.measure,
            "reason": self.reason,
            "detail": self.detail,
        }
        if self.device is not None:
            out["device"] = self.device
        return out


class PayloadError(ValueError):
    """The payload as a whole is unusable (reason ``malformed``)."""


def decode_json(payload: bytes) -> Any:
    """The JSON document of ``payload``; :class:`PayloadError` when it is not JSON."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"not valid JSON: {exc}") from None


def device_entries(document: Any) -> list[Any]:
    """The entries of a single-device payload: one object of measures, or an array of them."""
    if type(document) is dict:
        return [document]
    if type(document) is list:
        return document
    raise PayloadError(f"a device payload must be a JSON object of measures or an array of them, not {_kind(document)}")


def gateway_entries(document: Any) -> dict[str, Any]:
    """The members of a gateway payload: ``{device id: [entries...]}`` (a single object is one entry)."""
    if type(document) is not dict:
        raise PayloadError(f"a gateway payload must be a JSON object of device id -> measures, not {_kind(document)}")
    return document


def member_entries(value: Any) -> list[Any] | None:
    """One gateway member's entries, or None when its value has the wrong shape."""
    if type(value) is list:
        return value
    if type(value) is dict:
        return [value]
    return None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


# -- timestamps -------------------------------------------------------------------------------

_parsed: dict[str, int] = {}
_formatted: dict[int, str] = {}


def timestamp_us(raw: Any) -> int:
    """µs since the epoch of a payload timestamp: ISO 8601 with an offset or ``Z``, or epoch milliseconds.

    Raises :class:`ValueError` with a reason a device operator understands.
    """
    kind = type(raw)
    if kind is str:
        cached = _parsed.get(raw)
        if cached is not None:
            return cached
        if len(raw) > _MAX_TS_TEXT:
            raise ValueError("the timestamp text is too long")
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{raw!r:.64} is not an ISO 8601 timestamp") from None
        if moment.tzinfo is None:
            raise ValueError(f"{raw!r:.64} has no UTC offset (add 'Z' or '+01:00')")
        us = (moment - _EPOCH) // _MICROSECOND
        if not 0 <= us <= _MAX_US:
            raise ValueError(f"{raw!r:.64} is before 1970")
        if len(_parsed) >= _CACHE_MAX:
            _parsed.clear()
        _parsed[raw] = us
        return us
    if kind is int or kind is float:
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError("the timestamp is not a finite number")
        us = round(float(raw) * 1000)
        if not 0 <= us <= _MAX_US:
            raise ValueError(f"{raw!r:.32} is not a plausible epoch time in milliseconds")
        return us
    raise ValueError(f"'ts' must be an ISO 8601 string or epoch milliseconds, not {_kind(raw)}")


def _is_canonical(raw: Any) -> bool:
    """Whether a parsed timestamp text is exactly what :func:`format_us` would write."""
    # Every separator in place (YYYY-MM-DDTHH:MM:SS.ffffffZ): also rules out week dates and basic times.
    return (
        type(raw) is str
        and len(raw) == 27
        and raw[4] == "-"
        and raw[7] == "-"
        and raw[10] == "T"
        and raw[13] == ":"
        and raw[16] == ":"
        and raw[19] == "."
        and raw[26] == "Z"
    )


def format_us(us: int) -> str:
    """An instant as ISO 8601 UTC with microseconds and a ``Z`` (the form of :attr:`Measure.observed_at`)."""
    text = _formatted.get(us)
    if text is None:
        # isoformat pads years before 1000 to four digits and is ~10x faster than strftime.
        text = (_NAIVE_EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds") + "Z"
        if len(_formatted) >= _CACHE_MAX:
            _formatted.clear()
        _formatted[us] = text
    return text


# -- measures ---------------------------------------------------------------------------------


def _enum_key(raw: Any) -> str:
    if raw is True:
        return "true"
    if raw is False:
        return "false"
    if type(raw) is float and raw.is_integer():
        return str(int(raw))
    return str(raw)


def map_entries(
    device: CompiledDevice,
    entries: Sequence[Any],
    *,
    default_us: int,
    latest_us: int,
    measures: list[Measure],
    rejections: list[Rejection],
    label: str | None = None,
) -> int:
    """Map ``entries`` of ``device`` to measures (appended to ``measures``); returns how many measures were refused.

    ``default_us`` stamps entries without ``ts``; entries stamped after ``latest_us`` are
    refused as ``future-timestamp``.  ``label`` names the device in rejections (gateways).
    """
    rules = device.rules
    refused = 0
    default_iso: str | None = None
    append = measures.append
    for index, entry in enumerate(entries):
        if type(entry) is not dict:
            rejections.append(
                Rejection(index, None, MALFORMED, f"an entry must be an object of measures, not {_kind(entry)}", label)
            )
            refused += 1
            continue
        raw_ts = entry.get(TIMESTAMP_KEY)
        if raw_ts is None:
            us = default_us
            if default_iso is None:
                default_iso = format_us(default_us)
            iso = default_iso
        else:
            try:
                us = timestamp_us(raw_ts)
            except ValueError as exc:
                rejections.append(Rejection(index, TIMESTAMP_KEY, BAD_TIMESTAMP, str(exc), label))
                refused += max(len(entry) - 1, 1)
                continue
            if us > latest_us:
                rejections.append(
                    Rejection(
                        index,
                        TIMESTAMP_KEY,
                        FUTURE_TIMESTAMP,
                        f"{format_us(us)} is more than the tolerated time ahead of the receive time",
                        label,
                    )
                )
                refused += max(len(entry) - 1, 1)
                continue
            # Already in the stored form (what Urbis's own clients send): no need to format it again.
            iso = raw_ts if _is_canonical(raw_ts) else format_us(us)
        for key, raw in entry.items():
            if key == TIMESTAMP_KEY:
                continue
            rule = rules.get(key)
            if rule is None:
                rejections.append(
                    Rejection(index, key, UNKNOWN_MEASURE, f"the device's mapping has no measure {key!r:.64}", label)
                )
                refused += 1
                continue
            kind = rule.kind
            raw_type = type(raw)
            value: Any
            if kind == NUMBER:
                if raw_type is not int and raw_type is not float:
                    rejections.append(
                        Rejection(index, key, WRONG_TYPE, f"{key!r} must be a number, not {_kind(raw)}", label)
                    )
                    refused += 1
                    continue
                if rule.values is not None:
                    value = rule.values.get(_enum_key(raw))
                    if value is None:
                        rejections.append(
                            Rejection(
                                index, key, OUT_OF_RANGE, f"{key!r} = {raw!r} is not one of the mapped values", label
                            )
                        )
                        refused += 1
                        continue
                else:
                    if rule.identity:
                        value = raw
                    elif rule.divisor is not None:
                        # 12 significant digits: 65.6 % stays 0.656, not 0.6559999999999999
                        value = float(f"{raw / rule.divisor + rule.offset:.12g}")
                    else:
                        value = float(f"{raw * rule.scale + rule.offset:.12g}")
                    if (rule.lo is not None and value < rule.lo) or (rule.hi is not None and value > rule.hi):
                        rejections.append(
                            Rejection(
                                index,
                                key,
                                OUT_OF_RANGE,
                                f"{key!r} = {raw!r} gives {rule.attribute} {value!r}, outside [{rule.lo}, {rule.hi}]",
                                label,
                            )
                        )
                        refused += 1
                        continue
            elif kind == BOOLEAN:
                if raw_type is not bool:
                    rejections.append(
                        Rejection(index, key, WRONG_TYPE, f"{key!r} must be true or false, not {_kind(raw)}", label)
                    )
                    refused += 1
                    continue
                if rule.values is None:
                    value = raw
                else:
                    value = rule.values.get("true" if raw else "false")
                    if value is None:
                        rejections.append(
                            Rejection(
                                index, key, OUT_OF_RANGE, f"{key!r} = {raw!r} is not one of the mapped values", label
                            )
                        )
                        refused += 1
                        continue
            else:
                if raw_type is not str:
                    rejections.append(
                        Rejection(index, key, WRONG_TYPE, f"{key!r} must be a text, not {_kind(raw)}", label)
                    )
                    refused += 1
                    continue
                if len(raw) > MAX_TEXT:
                    rejections.append(
                        Rejection(index, key, OUT_OF_RANGE, f"{key!r} is longer than {MAX_TEXT} characters", label)
                    )
                    refused += 1
                    continue
                if rule.values is None:
                    value = raw
                else:
                    value = rule.values.get(raw)
                    if value is None:
                        rejections.append(
                            Rejection(
                                index,
                                key,
                                OUT_OF_RANGE,
                                f"{key!r} = {raw!r:.64} is not one of the mapped values",
                                label,
                            )
                        )
                        refused += 1
                        continue
            append(Measure(rule.attribute, value, iso, us, rule.unit_code))
    return refused
