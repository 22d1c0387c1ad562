"""Readable plain text out of e-mail bodies: HTML converted to text, ``format=flowed`` joined,
whitespace and control characters normalised.

``html_to_text`` drops what a reader never sees (``<script>``, ``<style>``, ``<head>``), breaks
lines at block elements and ``<br>``, decodes entities (``html.unescape``), and prefixes the lines
of a ``<blockquote>`` with ``> `` as a plain-text client would quote them, so
``apps.core.mail_quotes`` strips quoted replies the same way whichever body a client sent. It
never raises on broken markup (mail HTML is rarely valid).

*Why not ``html.parser``.* A mail body is written by whoever sends us mail, and the standard
library's ``HTMLParser`` is quadratic, or worse, on some unterminated markup (CPython has been
fixing such cases in security releases since 2025; ours need not have them): on Python 3.11.7,
40 kB of ``<a href=`` took 4 s and 160 kB 75 s, a worker blocked per message. The tokenizer
here is one left-to-right pass (``str.find`` and regexes with possessive quantifiers, which
cannot backtrack) and follows HTML5 where it matters for text: a tag left open at the end is
dropped with what follows it, and ``<script>``/``<style>`` content is never markup.

The text these functions return keeps the stored-text rule (``apps.core.text``): no C0 control
characters but tab and newline, line breaks as ``\\n``.
"""

import re
from html import unescape

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Whitespace that HTML collapses: ASCII whitespace and the no-break space (``&nbsp;``). The
# ideographic space (U+3000) is text in Chinese, not layout: it stays.
_HTML_SPACE_RE = re.compile(r"[ \t\r\n\f\xa0]+")
_BLANK_RUN_RE = re.compile(r"\n{3,}")

# Elements whose content a reader never sees.
_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript", "xml"})
# Elements whose content is text, never markup, up to their end tag.
_RAW_TEXT_END = {
    name: re.compile(rf"</{name}\b", re.IGNORECASE)
    for name in ("script", "style", "title", "textarea")
}
# Elements that start and end a line of their own.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "center", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol",
        "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
# Block elements that also leave a blank line around them.
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote"})
_CELL = frozenset({"td", "th"})
# A tag: "<" or "</", a name, attributes (a quoted value after "=" may hold ">"), ">". Every
# quantifier is possessive, so a tag that never closes fails in one pass, not by backtracking.
_TAG_RE = re.compile(r"""<(/?)([A-Za-z][^\s/>]*+)((?:[^>=]++|=\s*+"[^"]*+"|=\s*+'[^']*+'|=)*+)>""")
# Where markup may start; any other "<" is text.
_MARKUP_START_RE = re.compile(r"<(?:[A-Za-z!?]|/[A-Za-z])")
_HREF_RE = re.compile(r"""\bhref\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s"'>]++))""", re.IGNORECASE)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "area", "base", "col"})


def clean_controls(text: str) -> str:
    """Line breaks as ``\\n`` and no control characters but tab and newline."""
    return _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def normalise_text(text: str) -> str:
    """``clean_controls``, no trailing spaces, at most one blank line in a row, no blank lines
    at either end."""
    text = clean_controls(text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUN_RE.sub("\n\n", text).strip("\n")


def unflow(text: str, *, delsp: bool = False) -> str:
    """Join the soft line breaks of a ``format=flowed`` body (RFC 3676): a line that ends in a
    space continues on the next line of the same quote depth; a leading space is stuffing.
    ``delsp=yes`` means the trailing space was added by the sender and goes too."""
    out: list[str] = []
    pending: tuple[int, str] | None = None  # (quote depth, text so far) of an open paragraph
    for raw in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        line = raw[depth:]
        if line.startswith(" "):
            line = line[1:]
        if pending is not None and pending[0] != depth:
            out.append(">" * pending[0] + (" " if pending[0] else "") + pending[1])
            pending = None
        joined = (pending[1] if pending else "") + line
        # "-- " is the signature separator, never a soft break.
        if line.endswith(" ") and line != "-- ":
            pending = (depth, joined[:-1] if delsp else joined)
            continue
        pending = None
        out.append(">" * depth + (" " if depth and joined else "") + joined)
    if pending is not None:
        out.append(">" * pending[0] + (" " if pending[0] else "") + pending[1])
    return "\n".join(out)


class _TextWriter:
    """Lines of text from a stream of start tags, end tags and text (``_tokens``)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._line: list[str] = []
        self._line_quote = 0
        self._hidden = 0
        self._pre = 0
        self._quote = 0
        # Open links: (address, where their text starts in the current line).
        self._links: list[tuple[str | None, int]] = []

    # --- building lines --------------------------------------------------------------------
    def _break(self, *, blank: bool = False) -> bool:
        """End the current line; with ``blank``, leave one empty line after it. Whether a line
        with text was ended."""
        text = "".join(self._line)
        text = text.rstrip(" ") if self._pre else text.strip(" ")
        self._line = []
        if text:
            self.lines.append("> " * self._line_quote + text)
        if blank:
            self._blank()
        return bool(text)

    def _blank(self) -> None:
        if self.lines and self.lines[-1].rstrip("> ") != "":
            self.lines.append(("> " * self._quote).rstrip())

    def _write(self, text: str) -> None:
        if not self._line:
            self._line_quote = self._quote
        self._line.append(text)

    # --- tokens ----------------------------------------------------------------------------
    def start(self, tag: str, attrs: str) -> None:
        if tag == "body":
            self._hidden = 0  # a <head> never closed ends here
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            # Two <br> in a row are how mail editors write a paragraph break.
            if not self._break():
                self._blank()
        elif tag in _PARAGRAPH:
            self._break(blank=True)
            self._pre += tag == "pre"
            self._quote += tag == "blockquote"
        elif tag in _BLOCK:
            self._break()
            if tag == "li":
                self._write("- ")
        elif tag in _CELL:
            if self._line:
                self._write(" ")
        elif tag == "a":
            found = _HREF_RE.search(attrs)
            href = next(g for g in found.groups() if g is not None) if found else None
            self._links.append((unescape(href) if href else None, len(self._line)))

    def end(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _PARAGRAPH:
            self._break(blank=True)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
        elif tag in _BLOCK:
            self._break()
        elif tag == "a" and self._links:
            href, text_start = self._links.pop()
            # A link whose text is not its address keeps the address: the reader may need it.
            is_web = bool(href) and href.startswith(("http://", "https://"))
            if is_web and href not in "".join(self._line[text_start:]):
                self._write(f" ({href})")

    def data(self, data: str) -> None:
        if self._hidden:
            return
        data = unescape(data)
        if self._pre:
            first, *rest = data.replace("\r\n", "\n").split("\n")
            self._write(first)
            for line in rest:
                self._break()
                self._write(line)
            return
        data = _HTML_SPACE_RE.sub(" ", data)
        if data == " " and not self._line:
            return
        if not self._line:
            data = data.lstrip(" ")
        self._write(data)

    def close(self) -> None:
        self._break()


def _tokens(html: str, writer: _TextWriter) -> None:
    """Tokenise ``html`` into ``writer`` in one pass. Comments, declarations and processing
    instructions are skipped; the content of <script>, <style>, <title> and <textarea> is never
    markup; a tag still open at the end is dropped with what follows, as HTML5 does."""
    i, end = 0, len(html)
    while i < end:
        markup = _MARKUP_START_RE.search(html, i)
        if markup is None:
            writer.data(html[i:])
            return
        lt = markup.start()
        if lt > i:
            writer.data(html[i:lt])
        if html.startswith("<!--", lt):
            close = html.find("-->", lt + 4)
            i = end if close < 0 else close + 3
            continue
        if html.startswith(("<!", "<?"), lt):
            close = html.find(">", lt + 2)
            i = end if close < 0 else close + 1
            continue
        tag = _TAG_RE.match(html, lt)
        if tag is None:
            return  # a tag never closed: HTML drops it and everything after it
        closing, name, attrs = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
        i = tag.end()
        if closing:
            writer.end(name)
            continue
        writer.start(name, attrs)
        if name in _RAW_TEXT_END:
            # Raw text runs to its end tag; nothing inside is a tag.
            close_tag = _RAW_TEXT_END[name].search(html, i)
            raw_end = end if close_tag is None else close_tag.start()
            if name not in _HIDDEN:
                writer.data(html[i:raw_end])
            i = raw_end
        elif attrs.endswith("/") and name not in _VOID:
            writer.end(name)


def html_to_text(html: str) -> str:
    """The text a reader sees in ``html``, one block per line, quotes prefixed with ``> ``."""
    writer = _TextWriter()
    _tokens(html, writer)
    writer.close()
    return normalise_text("\n".join(writer.lines))
