"""Pieces every page of the HTML dashboard is made of: the frame, a table, a figure.

The frame links the one shipped script (``plotly.min.js``) relative to the page's depth, so
the site works from ``file://`` and on GitHub Pages alike; styles are inlined.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.io

from tools.bench.site.charts import Figure

PLOTLY_FILE = "plotly.min.js"
STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 24px;
       color: #1a1a1a; max-width: 1400px; font-size: 15px; line-height: 1.45; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 21px; margin-top: 32px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d0d0; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f2f4f7; } .muted { color: #555; } code { font-size: 13px; }
h1 code { font-size: inherit; }
.pass, .met { color: #1b5e20; font-weight: 600; } .bad { color: #b71c1c; font-weight: 600; }
.warn { color: #8a5a00; font-weight: 600; }
"""


def figure_html(fig: Figure, div_id: str) -> str:
    config = {"displaylogo": False, "responsive": True}
    return plotly.io.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=config, validate=False
    )


def page(title: str, body: str, *, depth: int) -> str:
    up = "../" * depth
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'  # no favicon request (a 404 on every page)
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f'<script src="{up}{PLOTLY_FILE}"></script></head><body>\n{body}\n</body></html>\n'
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
