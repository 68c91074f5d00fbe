"""Self-contained HTML reports (no network needed to open them).

Solutions build their own report from these pieces (``page``, ``sortable_table``,
``bar_chart_svg``); :func:`generic_report` serves any solution that has none.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from meshinsights.ledger import DeviceRecord

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d9e2ec}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{border-bottom:1px solid #e4e7eb;padding:.3rem .5rem;text-align:left}
th{cursor:pointer;background:#f5f7fa;position:sticky;top:0}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f5f7fa;border-radius:8px;padding:.8rem 1.2rem}
.card b{display:block;font-size:1.4rem}.status-failed{color:#c81e1e}.status-ok{color:#057a55}
.status-insufficient_data{color:#9f580a}figure{margin:1rem 0}details{margin:.5rem 0}
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function(table){
  table.querySelectorAll("th").forEach(function(th, index){
    th.addEventListener("click", function(){
      var asc = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach(function(h){h.classList.remove("sorted-asc","sorted-desc");});
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function(a, b){
        var x = a.cells[index].dataset.value || a.cells[index].textContent;
        var y = b.cells[index].dataset.value || b.cells[index].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
"""


def escape(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def page(title: str, body: str, style: str = "") -> str:
    """A whole HTML document with inline style (``style`` adds rules) and the table-sorting script."""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{STYLE}{style}</style></head><body>"
        f"{body}<script>{SORT_SCRIPT}</script></body></html>"
    )


def sortable_table(
    frame: pd.DataFrame,
    table_id: str = "summary",
    links: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    """A table whose columns sort on click; NaN shows as an empty cell.

    ``links`` maps a column to a function giving the href of each of its cells
    (for example an anchor of a section further down the page).
    """
    links = links or {}
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    body_rows = []
    for row in frame.itertuples(index=False):  # rendering only: rows of a summary table
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            shown = "" if value is None or value != value else value
            css = f" class=\"status-{escape(shown)}\"" if column == "status" else ""
            text = escape(shown)
            if column in links and shown != "":
                text = f"<a href=\"{escape(links[column](value))}\">{text}</a>"
            cells.append(f"<td{css}>{text}</td>")
        body_rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table id=\"{escape(table_id)}\" class=\"sortable\"><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body_rows)}</tbody></table>"
    )


def cards(values: Mapping[str, Any]) -> str:
    return "<div class=\"cards\">" + "".join(
        f"<div class=\"card\"><b>{escape(v)}</b>{escape(k)}</div>" for k, v in values.items()
    ) + "</div>"


def bar_chart_svg(counts: Mapping[str, int], title: str, width: int = 520) -> str:
    """A horizontal bar chart as inline SVG (used where no plotting library is needed)."""
    if not counts:
        return f"<p>{escape(title)}: none</p>"
    bar_height, gap, label_width = 22, 6, 170
    top = max(counts.values()) or 1
    height = len(counts) * (bar_height + gap) + 30
    parts = [
        f"<svg role=\"img\" aria-label=\"{escape(title)}\" width=\"{width}\" height=\"{height}\" "
        f"viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        f"<text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{escape(title)}</text>",
    ]
    for i, (label, count) in enumerate(counts.items()):
        y = 26 + i * (bar_height + gap)
        length = (width - label_width - 50) * count / top
        parts.append(f"<text x=\"0\" y=\"{y + 15}\" font-size=\"12\">{escape(label)}</text>")
        parts.append(
            f"<rect x=\"{label_width}\" y=\"{y}\" width=\"{length:.1f}\" height=\"{bar_height}\" "
            "fill=\"#3e7cb1\"/>"
        )
        parts.append(
            f"<text x=\"{label_width + length + 6:.1f}\" y=\"{y + 15}\" font-size=\"12\">{count}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def issue_counts(summary: pd.DataFrame) -> dict[str, int]:
    """Devices per issue code, from a ``;``-joined ``issues`` column when there is one."""
    if "issues" not in summary.columns:
        return {}
    codes = summary[["device_id", "issues"]].dropna()
    exploded = codes.assign(issue=codes["issues"].astype(str).str.split(";")).explode("issue")
    exploded = exploded[exploded["issue"].str.len() > 0].drop_duplicates(["device_id", "issue"])
    counts = exploded["issue"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def fleet_overview(summary: pd.DataFrame, manifest: Mapping[str, Any]) -> str:
    by_status: dict[str, int] = manifest["devices"]["by_status"]
    timing = manifest["timing"]
    return (
        cards({
            "devices": manifest["devices"]["total"],
            **{status.replace("_", " "): n for status, n in by_status.items()},
            "wall time (s)": f"{timing['wall_time_s']:.2f}",
            "I/O-CPU overlap": f"{timing['overlap_fraction']:.0%}",
        })
        + "<figure>" + bar_chart_svg(by_status, "Devices by status") + "</figure>"
        + "<figure>" + bar_chart_svg(issue_counts(summary), "Devices by issue code") + "</figure>"
    )


def generic_report(out_dir: Path, records: Sequence[DeviceRecord], manifest: dict[str, Any]) -> str:
    """Fleet overview and the summary table, for solutions without a report of their own."""
    from meshinsights.ledger import summary_frame

    summary = summary_frame(records, None)
    title = f"MeshInsights run {manifest['run_id']} ({manifest['solution']})"
    body = (
        f"<h1>{escape(title)}</h1><h2>Fleet overview</h2>{fleet_overview(summary, manifest)}"
        f"<h2>Devices</h2>{sortable_table(summary)}"
    )
    return page(title, body)
