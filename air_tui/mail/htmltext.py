"""HTML bodies turned into plain text, with the links they carry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

MAX_LINK_TEXT_CHARS = 1_000

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN_TAGS = frozenset({"iframe", "noembed", "noframes", "script", "style", "template", "title"})
_SRC_TAGS = frozenset({"img", "iframe", "frame", "embed", "script", "source", "input", "video", "audio", "track"})
_HREF_TAGS = frozenset({"a", "area", "link"})
_SRCSET_TAGS = frozenset({"img", "source"})
# Other attributes whose value a browser fetches or follows: (tag, attribute, source).
_OTHER_URL_ATTRIBUTES = (
    (frozenset({"body", "table", "tr", "td", "th"}), "background", "src"),
    (frozenset({"video"}), "poster", "src"),
    (frozenset({"object"}), "data", "src"),
    (frozenset({"button", "input"}), "formaction", "form"),
)
_SPACE_RUN = re.compile(r"[ \t\f\v\r\n]+")
# `<meta http-equiv="refresh" content="5; url='https://…'">`: a delay, then an optional `url=`
# and the URL, quoted or not.
_REFRESH_CONTENT = re.compile(
    r"^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(?:(?P<quote>[\"'])(?P<quoted>[^\"']*)|(?P<bare>.*))",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class HtmlLink:
    """A URL taken from an HTML attribute."""

    url: str
    source: str
    """`href`, `src`, `srcset`, `form` or `meta-refresh`."""
    link_text: str = ""
    detail: str = ""
    """The element and attribute, such as `img src` or `video poster`."""


@dataclass
class HtmlContent:
    """Visible text of an HTML document and the links in its attributes."""

    text: str
    links: list[HtmlLink] = field(default_factory=list)
    problem: str = ""
    """Reason the parser stopped early, or "" when it read the whole document."""


def html_to_text(html: str) -> HtmlContent:
    """Convert HTML to plain text and collect the URLs of its links.

    Script, style, template and title content is dropped. Block elements
    start new lines and runs of white space collapse as a browser would show
    them. HTML entities are decoded in text and in attribute values.

    Args:
        html: The decoded HTML document.

    Returns:
        The text, the links in document order, and a problem description if
        the parser stopped early. Links come from `href`, `src`, every
        candidate of `srcset`, `form action`, `formaction`, `background`,
        `poster`, `object data` and `<meta http-equiv="refresh">`.
    """
    converter = _TextConverter()
    problem = ""
    try:
        converter.feed(html)
        converter.close()
    except (AssertionError, ValueError, IndexError) as error:
        # html.parser in CPython 3.11 still asserts on some malformed declarations.
        problem = f"the HTML parser stopped early ({type(error).__name__})"
    converter.finish_anchor()
    if converter.base:
        # A relative link in mail resolves against <base href>. Phishers use it to keep the real
        # host out of every href.
        for link in converter.links:
            if _is_relative(link.url):
                link.url = _resolve(converter.base, link.url)
    return HtmlContent(text=converter.text(), links=converter.links, problem=problem)


_ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def _is_relative(url: str) -> bool:
    url = url.strip()
    return bool(url) and not url.startswith(("#", "//")) and not _SCHEME.match(url)


def _resolve(base: str, url: str) -> str:
    try:
        return urljoin(base, url.strip())
    except ValueError:
        return url


class _TextConverter(HTMLParser):
    # Browsers read the content of these elements as raw text up to the
    # matching end tag; html.parser only does so for script and style. Without
    # this, a `<style>` written inside an `<iframe>` would hide the rest of the
    # document from us while a browser still shows it.
    CDATA_CONTENT_ELEMENTS = ("script", "style", "iframe", "noembed", "noframes", "textarea", "title", "xmp")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[HtmlLink] = []
        self._chunks: list[str] = []
        self._hidden_depth = 0
        self._pre_depth = 0
        self._anchor: HtmlLink | None = None
        self._anchor_text: list[str] = []
        self.base = ""
        """The first absolute `<base href>`, against which relative links resolve."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, dict(attrs))
        if tag in _HIDDEN_TAGS:
            # A self-closed <script/> opens nothing.
            self._hidden_depth = max(0, self._hidden_depth - 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag == "a":
            self.finish_anchor()
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in _BLOCK_TAGS:
            self._chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        text = data if self._pre_depth else _SPACE_RUN.sub(" ", data)
        self._chunks.append(text)
        if self._anchor is not None:
            self._anchor_text.append(text)

    def finish_anchor(self) -> None:
        """Close the open anchor, if any, and store its visible text."""
        if self._anchor is not None:
            self._anchor.link_text = " ".join("".join(self._anchor_text).split())[:MAX_LINK_TEXT_CHARS]
        self._anchor = None
        self._anchor_text = []

    def text(self) -> str:
        """Return the collected text with lines trimmed and blank runs shortened."""
        lines = [line.strip() for line in "".join(self._chunks).split("\n")]
        text = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip()

    def _start(self, tag: str, attributes: dict[str, str | None]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        if tag in _BLOCK_TAGS:
            self._chunks.append("\n")
        if tag == "a":
            # An <a> inside an unclosed <a> closes it, as browsers do.
            self.finish_anchor()
        href = attributes.get("href")
        if tag == "base" and href and not self.base and _ABSOLUTE.match(href.strip()):
            self.base = href.strip()
        if tag in _HREF_TAGS and href:
            link = HtmlLink(url=href, source="href", detail=f"{tag} href")
            self.links.append(link)
            if tag == "a":
                self._anchor = link
        src = attributes.get("src")
        if tag in _SRC_TAGS and src:
            self.links.append(HtmlLink(url=src, source="src", detail=f"{tag} src"))
        srcset = attributes.get("srcset")
        if tag in _SRCSET_TAGS and srcset:
            self.links.extend(HtmlLink(url=url, source="srcset", detail=f"{tag} srcset") for url in srcset_urls(srcset))
        action = attributes.get("action")
        if tag == "form" and action:
            self.links.append(HtmlLink(url=action, source="form", detail="form action"))
        for tags, attribute, source in _OTHER_URL_ATTRIBUTES:
            value = attributes.get(attribute)
            if tag in tags and value:
                self.links.append(HtmlLink(url=value, source=source, detail=f"{tag} {attribute}"))
        if tag == "meta" and (attributes.get("http-equiv") or "").strip().lower() == "refresh":
            target = refresh_url(attributes.get("content") or "")
            if target:
                self.links.append(HtmlLink(url=target, source="meta-refresh", detail="meta refresh"))


def srcset_urls(srcset: str) -> list[str]:
    """Return every candidate URL of a `srcset` value, in order.

    Candidates are separated by commas, and each URL is followed by an optional width or
    density descriptor. A URL may itself contain commas, so a URL runs to the next white
    space, as browsers read it, and only commas at its end are dropped.
    """
    urls: list[str] = []
    position = 0
    length = len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        url = srcset[start:position].rstrip(",")
        if url:
            urls.append(url)
        if srcset[start:position].endswith(","):
            continue
        # Skip the descriptors up to the comma that ends this candidate; commas inside
        # brackets belong to the descriptor.
        depth = 0
        while position < length:
            character = srcset[position]
            if character == "(":
                depth += 1
            elif character == ")":
                depth = max(0, depth - 1)
            elif character == "," and depth == 0:
                break
            position += 1
    return urls


def refresh_url(content: str) -> str:
    """Return the URL of a meta refresh `content` value, or "" when it names none.

    Accepts `0; url=https://…`, `0;URL='https://…'`, `0, https://…` and `https://…` alone,
    in any case. The URL runs to the closing quote, or to the end when it is not quoted.
    """
    match = _REFRESH_CONTENT.match(content)
    if match is None:
        return ""
    url = match.group("quoted") if match.group("quote") else match.group("bare")
    return (url or "").strip()
