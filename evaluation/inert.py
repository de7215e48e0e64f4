"""Reports that stay inert when shared (issue 23).

Names of raters, systems, files and criteria come from user data and reach report.md and
report.html. Three layers keep them text:

1. `md_text` escapes a value for Markdown and HTML at once, so it can never open a link, an
   image, a tag, a table cell or a new block (reference definitions need their own line).
2. `inert_html` rebuilds the rendered page from an allow-list: known tags only, no event
   attributes, links only to the page's own anchors (`#...`), images only as inline data.
3. `CSP_META`: a Content-Security-Policy in the file itself; even a mistake above fetches
   nothing from anywhere and runs no script.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# '[' ']' make links and images, '<' '>' tags and autolinks, '&' entities, '|' table cells,
# '\\' escapes, '@' e-mail autolinks; line breaks could start a reference definition. Bare
# URLs ("http://", "www.") are autolinked by GitHub's Markdown: their "://" and "www." are broken.
_MARKDOWN = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "\\": "\\\\", "|": "&#124;",
    "@": "&#64;", "`": "\\`", "\n": " ", "\r": " ", "\x00": "",
})

_WWW = re.compile(r"(?i)\bwww\.")
CSP_META = ("<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">")

_ALLOWED_TAGS = frozenset({
    "html", "head", "body", "meta", "title", "style", "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "em", "strong", "code", "pre", "blockquote",
    "a", "img", "div", "span", "small", "sup", "sub", "details", "summary", "figure", "figcaption", "caption",
})
_VOID = frozenset({"meta", "br", "hr", "img"})
_ALLOWED_ATTRS = frozenset({"id", "class", "href", "src", "alt", "title", "colspan", "rowspan", "align", "lang",
                            "charset", "name", "content", "width", "height", "style", "http-equiv"})
_IMAGE_PREFIXES = ("data:image/svg+xml;base64,", "data:image/png;base64,")


def md_text(value) -> str:
    """A value from user data as Markdown that shows exactly the text and makes nothing else."""
    if value is None:
        return "-"
    return _WWW.sub("www&#46;", str(value).translate(_MARKDOWN).replace("://", "&#58;//"))


class _Inert(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.skipping = 0  # inside a tag whose content is dropped (script, iframe, ...)
        self.in_style = False

    def _attrs(self, tag: str, attrs) -> str:
        kept = []
        for name, value in attrs:
            name = name.lower()
            value = value or ""
            if name not in _ALLOWED_ATTRS:
                continue
            if name == "href" and not value.startswith("#"):
                continue
            if name == "src" and not value.startswith(_IMAGE_PREFIXES):
                continue
            if name == "style" and ("url(" in value.lower() or "expression" in value.lower()):
                continue
            if name in ("http-equiv", "content", "name") and tag != "meta":
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        return "".join(kept)

    def handle_starttag(self, tag, attrs):
        if tag not in _ALLOWED_TAGS:
            if tag not in _VOID and tag not in ("input", "source", "link", "base"):
                self.skipping += 1
            return
        if tag == "meta" and any(n.lower() == "http-equiv" and (v or "").lower() == "refresh" for n, v in attrs):
            return
        if not self.skipping:
            self.in_style = tag == "style"
            self.out.append(f"<{tag}{self._attrs(tag, attrs)}>")

    def handle_startendtag(self, tag, attrs):
        if tag in _ALLOWED_TAGS and not self.skipping:
            self.out.append(f"<{tag}{self._attrs(tag, attrs)}>")

    def handle_endtag(self, tag):
        if tag not in _ALLOWED_TAGS:
            if tag not in _VOID and tag not in ("input", "source", "link", "base"):
                self.skipping = max(0, self.skipping - 1)
            return
        if not self.skipping and tag not in _VOID:
            self.in_style = False
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.skipping:  # our own style sheet stays as written (CSS uses '>')
            self.out.append(data if self.in_style else html.escape(data, quote=False))

    def handle_entityref(self, name):
        if not self.skipping:
            self.out.append(f"&{name};")

    def handle_charref(self, name):
        if not self.skipping:
            self.out.append(f"&#{name};")

    def handle_decl(self, decl):
        self.out.append(f"<!{decl}>")


def inert_html(page: str) -> str:
    """The page rebuilt from the allow-list, with the CSP meta tag first in its head."""
    parser = _Inert()
    parser.feed(page)
    parser.close()
    text = "".join(parser.out)
    head = text.find("<head>")
    if head >= 0:
        return text[: head + 6] + CSP_META + text[head + 6:]
    return CSP_META + text
