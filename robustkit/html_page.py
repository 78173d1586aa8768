"""The HTML of every tool's report.html: one page shape, one table (no TensorFlow here)."""

import html
from typing import Any, Callable, Sequence

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:.5em 0}"
         "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}img{max-width:100%}"
         ".pass{color:#080}.fail{color:#c00;font-weight:bold}.skip{color:#888}")


def cell(value: Any, digits: int = 4) -> str:
    """A table cell: None as '-', floats with ``digits`` decimals, anything else escaped."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def markup(value: Any) -> str:
    """A cell that already holds HTML."""
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Callable[[Any], str] = cell) -> str:
    """An HTML table; each cell goes through ``fmt`` (`cell` by default, `markup` for prepared HTML)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, parts: Sequence[str]) -> str:
    """A whole report.html: ``parts`` (HTML fragments) under one style."""
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
