"""Saved web pages: the article's main text and metadata, by trafilatura (its dates by htmldate).

Pages carry much besides the article. trafilatura keeps the main text and drops navigation and
most page furniture; the containers named in `BOILERPLATE` are cut out before it looks, since a
cookie banner or a "related stories" list can otherwise pass for the only text of a page that
has no article. Dates come from the page's markup only (meta tags, `<time>`, structured data):
htmldate's extensive search would read any date in the text, such as a footer's copyright year.
"""

from __future__ import annotations

import logging

from index.readers import Article, Problem, Reading, compose
from index.readers.dates import DateError, iso_day

# Page furniture by the class or id words sites give it; matched as substrings, lower case.
BOILERPLATE_WORDS = (
    "cookie",
    "consent",
    "gdpr",
    "newsletter",
    "subscribe",
    "share",
    "social",
    "related",
    "recommend",
    "promo",
    "advert",
    "author-bio",
    "author-box",
    "byline",
    "breadcrumb",
    "comments",
)


# Never cut an element that holds the article: one wrapping <article> or <main>, or three or more
# paragraphs (a class such as "post share-enabled" on the article's own container would match).
_NOT_ARTICLE = "not(self::article or self::main or .//article or .//main) and count(.//p) < 3"


def _xpath(word: str) -> str:
    low = "translate({0},'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')"
    named = f"contains({low.format('@class')},'{word}') or contains({low.format('@id')},'{word}')"
    return f"//*[({named}) and {_NOT_ARTICLE}]"


BOILERPLATE = [f"//{tag}[{_NOT_ARTICLE}]" for tag in ("nav", "aside", "footer")] + list(map(_xpath, BOILERPLATE_WORDS))
# A page whose extracted text is shorter than this has no article: what is left is a caption,
# a login prompt or a lone headline (a short news brief still has a few sentences).
MIN_WORDS = 20
DATE_PARAMS = {"extensive_search": False, "original_date": True}


def read(data: bytes, name: str) -> Reading:
    try:
        import trafilatura
        from trafilatura.utils import load_html
    except ImportError as exc:
        return Reading(problems=(Problem("", f"reading HTML needs trafilatura ({exc}); pip install trafilatura"),))
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # its own warnings would repeat ours
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    if load_html(data) is None:
        return Reading(problems=(Problem("", "not readable as HTML (no document tree); save the page again as HTML"),))
    try:
        found = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            prune_xpath=BOILERPLATE,
            date_extraction_params=DATE_PARAMS,
        )
    except Exception as exc:  # a library failure on one page must not end the build
        return Reading(
            problems=(Problem("", f"HTML could not be parsed ({type(exc).__name__}: {exc}); re-save the page"),)
        )
    body = (getattr(found, "text", None) or "").strip() if found is not None else ""
    if len(body.split()) < MIN_WORDS:
        return Reading(
            problems=(
                Problem("", "no main text found (only navigation, banners or links); save the article page itself"),
            )
        )
    title = getattr(found, "title", None) or ""
    problems: list[Problem] = []
    try:
        published = iso_day(getattr(found, "date", None))
    except DateError as exc:
        published = ""
        problems.append(Problem("", f"{exc}; indexed without a date", skipped=False))
    article = Article(
        text=compose(title, body),
        title=" ".join(title.split()),
        published=published,
        author=getattr(found, "author", None) or "",
        outlet=getattr(found, "sitename", None) or "",
        url=getattr(found, "url", None) or "",
    )
    return Reading((article,), tuple(problems))


# Elements that end a paragraph of a fragment's text.
_BLOCKS = frozenset("p div li h1 h2 h3 h4 h5 h6 blockquote pre tr dt dd figcaption section article br".split())


def fragment_text(markup: str) -> str:
    """The text of an HTML fragment (a feed entry's content), one paragraph a line.

    A feed entry holds only its article, so nothing is cut; scripts and styles are dropped."""
    from lxml import etree
    from lxml import html as lxml_html

    if "<" not in markup:
        return "\n".join(" ".join(line.split()) for line in markup.splitlines() if line.strip())
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = " ".join("".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    def walk(element) -> None:
        if not isinstance(element.tag, str):  # a comment or processing instruction
            if element.tail:
                current.append(element.tail)
            return
        block = element.tag.lower() in _BLOCKS
        if block:
            flush()
        if element.text:
            current.append(element.text)
        for child in element:
            walk(child)
        if block:
            flush()
        if element.tail:
            current.append(element.tail)

    walk(root)
    flush()
    return "\n".join(lines)
