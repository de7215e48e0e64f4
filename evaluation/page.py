"""The one HTML page the reports write (pairwise report, rating report, comparison table): one
self-contained file, readable on a phone, made inert (evaluation/inert.py) before it is written."""

from __future__ import annotations

import html

from evaluation.inert import inert_html


def html_page(title: str, body: str, style: str) -> str:
    """`body` (HTML the caller escaped) under `title`, with `style` inline."""
    return inert_html("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                      "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                      f"<title>{html.escape(title)}</title><style>{style}</style></head><body>{body}</body></html>")
