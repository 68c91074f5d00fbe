"""PowerDataRetrieval: one device's power query in the configured connector's language.

Values (location, control, window) always travel as parameters; the only
text put into a query are table and column names, and those are checked
identifiers from :class:`~meshinsights_hvac.params.PowerSource`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from meshinsights.connectors import QueryParameters
from meshinsights.data_source import DataSource
from meshinsights.redaction import config_hash
from meshinsights_hvac.algorithms.keyed_rows import rows_by_key
from meshinsights_hvac.algorithms.timeutil import ts_ns
from meshinsights_hvac.params import PowerSource

SITESAGE_PATH = "/v1/locations/{location_id}/controls/{control_id}/power"
SQL_DIALECTS = {"file": '"', "mysql": "`"}
SUPPORTED = ("memory", "file", "mysql", "adx", "sitesage")


def _day(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:  # a whole ISO date, or an ISO datetime whose day is taken; nothing trailing
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
        except ValueError:
            pass
    raise ValueError(f"{name} must be a date or an ISO date string (YYYY-MM-DD), got {value!r}")


def device_window(
    start_date: Any, end_date: Any, timezone: str | None = None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start_date 00:00, end_date + 1 day 00:00) in UTC, local midnights when ``timezone`` is set."""
    first, last = _day(start_date, "start_date"), _day(end_date, "end_date")
    if last < first:
        raise ValueError(f"end_date {last} is before start_date {first}")
    start = pd.Timestamp(first)
    end = pd.Timestamp(last + timedelta(days=1))
    if timezone:
        try:
            start = start.tz_localize(timezone).tz_convert("UTC")
            end = end.tz_localize(timezone).tz_convert("UTC")
        except Exception as exc:  # noqa: BLE001 - unknown zone names
            raise ValueError(f"timezone {timezone!r} is not usable: {exc}") from None
    else:
        start, end = start.tz_localize("UTC"), end.tz_localize("UTC")
    return start.as_unit("us"), end.as_unit("us")


class PowerDataRetrieval(DataSource):
    """Power rows of one (location, control) in [start, end) from the configured connector."""

    def __init__(
        self,
        location_id: str,
        control_id: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        connection: Mapping[str, Any],
        source: PowerSource | None = None,
        name: str = "hvac_power",
    ) -> None:
        config = dict(connection)
        plugin = config.pop("plugin", None)
        if not plugin:
            raise ValueError("connection needs a 'plugin' key naming the connector")
        super().__init__(name, str(plugin), config)
        self.location_id = str(location_id)
        self.control_id = str(control_id)
        self.start = pd.Timestamp(start)
        self.end = pd.Timestamp(end)
        self.source = source or PowerSource()
        if self.plugin_name not in SUPPORTED:
            raise ValueError(
                f"connector {self.plugin_name!r} has no power query "
                f"(supported: {', '.join(SUPPORTED)})"
            )

    # ------------------------------------------------------------------ queries
    def build_query(self) -> str:
        return self._query(batch=False)

    def build_parameters(self) -> QueryParameters:
        plugin, s = self.plugin_name, self.source
        if plugin == "memory":
            return {s.location_id: self.location_id, s.control_id: self.control_id,
                    f"{s.timestamp}__ge": self.start, f"{s.timestamp}__lt": self.end}
        if plugin == "sitesage":
            return {"location_id": self.location_id, "control_id": self.control_id,
                    "start": _iso(self.start), "end": _iso(self.end)}
        start, end = self.start.to_pydatetime(), self.end.to_pydatetime()
        if plugin == "mysql":  # DATETIME columns hold naive UTC
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        return {"location_id": self.location_id, "control_id": self.control_id,
                "start": start, "end": end}

    def _query(self, *, batch: bool) -> str:
        plugin, s = self.plugin_name, self.source
        if plugin == "memory":
            return s.table
        if plugin == "sitesage":
            return SITESAGE_PATH
        if plugin == "adx":
            return _kql(s, batch=batch)
        return _sql(s, SQL_DIALECTS[plugin], plugin, batch=batch)

    # ------------------------------------------------------------------ batches
    @classmethod
    def build_batch(
        cls, sources: Sequence[DataSource]
    ) -> tuple[str, QueryParameters] | None:
        """One query for several devices of one connector, or None where it cannot be batched.

        Stage 1 sends it once per batch and hands each device its rows with
        :meth:`split_batch`; values stay parameters.
        """
        power_sources = [s for s in sources if isinstance(s, PowerDataRetrieval)]
        if len(power_sources) != len(sources):
            return None
        return cls._build_power_batch(power_sources)

    @classmethod
    def _build_power_batch(
        cls, sources: Sequence[PowerDataRetrieval]
    ) -> tuple[str, QueryParameters] | None:
        if not sources:
            return None
        head = sources[0]
        key = config_hash(head.plugin_config)
        same = all(
            s.plugin_name == head.plugin_name and config_hash(s.plugin_config) == key
            and s.source == head.source for s in sources
        )
        if not same or head.plugin_name == "sitesage":
            return None
        src = head.source
        start = min(s.start for s in sources)
        end = max(s.end for s in sources)
        locations = sorted({s.location_id for s in sources})
        controls = sorted({s.control_id for s in sources})
        if head.plugin_name == "memory":
            return src.table, {src.location_id: locations, src.control_id: controls,
                               f"{src.timestamp}__ge": start, f"{src.timestamp}__lt": end}
        py_start, py_end = start.to_pydatetime(), end.to_pydatetime()
        if head.plugin_name == "mysql":
            py_start, py_end = py_start.replace(tzinfo=None), py_end.replace(tzinfo=None)
        return head._query(batch=True), {"location_ids": locations, "control_ids": controls,
                                         "start": py_start, "end": py_end}

    def split_batch(self, frame: pd.DataFrame) -> pd.DataFrame:
        """This device's rows of a batched result."""
        return self.split_batches(frame, [self])[0]

    @classmethod
    def split_batches(cls, frame: pd.DataFrame, sources: Sequence[DataSource]) -> list[pd.DataFrame]:
        """Each device's rows of a batched result, found in one pass over the frame.

        Every (location, control) is mapped to its row positions in one scan
        (``rows_by_key``), so a batch of N devices costs one scan, not N. Each
        device then keeps the rows of its own window: the batched query asked
        for the union of all windows. The batched queries return rows by
        device, so a device's rows are usually one run of the frame, found
        without hashing and taken as a view. Naive timestamps (a MySQL
        ``DATETIME``) are UTC, as the query's parameters were.
        """
        power = [s for s in sources if isinstance(s, PowerDataRetrieval)]
        if len(power) != len(sources):
            raise TypeError("PowerDataRetrieval.split_batches got sources of another class")
        if not power:
            return []
        s = power[0].source
        positions = rows_by_key(frame[s.location_id], frame[s.control_id])
        stamps = _utc_nanoseconds(frame[s.timestamp])
        parts: list[pd.DataFrame] = []
        for source in power:
            rows = positions.get((source.location_id, source.control_id))
            if rows is None:
                parts.append(frame.iloc[:0].reset_index(drop=True))
                continue
            at = stamps[rows]
            rows = rows[(at >= source.start.value) & (at < source.end.value)]
            if len(rows) and rows[-1] - rows[0] == len(rows) - 1:
                part = frame.iloc[rows[0] : rows[-1] + 1]  # one run of rows: a view, no copy
            else:
                part = frame.take(rows)
            parts.append(part.reset_index(drop=True))
        return parts

    def get_metadata(self) -> dict[str, Any]:
        meta = super().get_metadata()
        meta.update(location_id=self.location_id, control_id=self.control_id,
                    start=_iso(self.start), end=_iso(self.end), table=self.source.table)
        return meta


def _utc_nanoseconds(column: pd.Series) -> Any:
    """Timestamps as int64 nanoseconds since the epoch, UTC (naive values are taken as UTC)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or column.dtype.kind == "M":
        return ts_ns(column)  # stored as UTC (aware) or taken as UTC (naive): no conversion
    stamps = pd.to_datetime(column, utc=True)  # text or objects: parsed, naive as UTC
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view("int64")


def _iso(value: pd.Timestamp) -> str:
    return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _order_columns(s: PowerSource, plugin: str, *, batch: bool) -> list[str]:
    """Rows in time order; a batch ordered by device first, so each device's rows are one
    slice of it (``split_batches`` takes them as a view).

    A batch from files is not sorted: DuckDB returns rows in the files' order
    (``preserve_insertion_order``), which for a fleet written device by device
    is already one run per device, and sorting them would double the query's
    cost. Files in another order are split by hashing the keys instead.
    """
    if batch:
        return [] if plugin == "file" else [s.location_id, s.control_id, s.timestamp]
    return [s.timestamp]


def _sql(s: PowerSource, quote: str, plugin: str, *, batch: bool) -> str:
    def q(name: str) -> str:
        return f"{quote}{name}{quote}"

    def p(name: str) -> str:
        return f"${name}" if plugin == "file" else f"%({name})s"

    columns = ", ".join(q(c) for c in s.columns)
    if batch:
        if plugin == "file":
            where = (f"{q(s.location_id)} = ANY({p('location_ids')}) "
                     f"AND {q(s.control_id)} = ANY({p('control_ids')})")
        else:
            where = (f"{q(s.location_id)} IN {p('location_ids')} "
                     f"AND {q(s.control_id)} IN {p('control_ids')}")
    else:
        where = (f"{q(s.location_id)} = {p('location_id')} "
                 f"AND {q(s.control_id)} = {p('control_id')}")
    order = _order_columns(s, plugin, batch=batch)
    return (
        f"SELECT {columns} FROM {q(s.table)} WHERE {where} "
        f"AND {q(s.timestamp)} >= {p('start')} AND {q(s.timestamp)} < {p('end')}"
        + (f" ORDER BY {', '.join(q(c) for c in order)}" if order else "")
    )


def _kql(s: PowerSource, *, batch: bool) -> str:
    """KQL; the parameters are re-bound with ``let`` so that columns of the same name
    (``location_id``) cannot shadow them inside ``where``."""
    def c(name: str) -> str:
        return f"['{name}']"

    if batch:
        head = ("declare query_parameters(location_ids:dynamic, control_ids:dynamic, "
                "start:datetime, end:datetime);\n"
                "let _locations = location_ids;\nlet _controls = control_ids;\n")
        where = f"{c(s.location_id)} in (_locations) and {c(s.control_id)} in (_controls)"
    else:
        head = ("declare query_parameters(location_id:string, control_id:string, "
                "start:datetime, end:datetime);\n"
                "let _location = location_id;\nlet _control = control_id;\n")
        where = f"{c(s.location_id)} == _location and {c(s.control_id)} == _control"
    order = _order_columns(s, "adx", batch=batch)
    return (
        f"{head}let _start = start;\nlet _end = end;\n"
        f"{c(s.table)}\n"
        f"| where {where} and {c(s.timestamp)} >= _start and {c(s.timestamp)} < _end\n"
        f"| project {', '.join(c(x) for x in s.columns)}\n"
        f"| order by {', '.join(f'{c(x)} asc' for x in order)}"
    )
