"""``report.html`` read back as a user sees it: the text of its headings, of each table's
cells (by the ``h2`` section they stand in), its figure captions and its images' sources.
Python's own HTML parser, so the tests read the page the way a browser's parser would, not by
searching its text."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Dict, List, Optional, Tuple


@dataclass
class Page:
    title: str = ""
    h1: str = ""
    #: h2 text -> the tables in that section, each a list of rows of cell texts
    tables: Dict[str, List[List[List[str]]]] = field(default_factory=dict)
    #: h2 text -> the paragraphs in that section
    paragraphs: Dict[str, List[str]] = field(default_factory=dict)
    captions: List[str] = field(default_factory=list)
    #: (section, alt, src) of every image
    images: List[Tuple[str, str, str]] = field(default_factory=list)
    sections: List[str] = field(default_factory=list)

    def table(self, section: str, index: int = 0) -> List[List[str]]:
        return self.tables[section][index]

    def pairs(self, section: str, index: int = 0) -> Dict[str, str]:
        """A two-column table as ``{first cell: second cell}``."""
        return {row[0]: row[1] for row in self.table(section, index)}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.section = ""
        self.text: Optional[List[str]] = None  # collecting the text of the open element
        self.row: Optional[List[str]] = None

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        found = dict(attrs)
        if tag in ("title", "h1", "h2", "h3", "p", "figcaption", "td", "th"):
            self.text = []
        elif tag == "table":
            self.page.tables.setdefault(self.section, []).append([])
        elif tag == "tr":
            self.row = []
        elif tag == "img":
            self.page.images.append((self.section, found.get("alt") or "", found.get("src") or ""))

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self.text or []).strip()
        if tag in ("td", "th") and self.row is not None:
            self.row.append(text)
        elif tag == "tr" and self.row is not None:
            self.page.tables[self.section][-1].append(self.row)
            self.row = None
        elif tag == "h2":
            self.section = text
            self.page.sections.append(text)
        elif tag == "h1":
            self.page.h1 = text
        elif tag == "title":
            self.page.title = text
        elif tag == "p":
            self.page.paragraphs.setdefault(self.section, []).append(text)
        elif tag == "figcaption":
            self.page.captions.append(text)
        if tag in ("title", "h1", "h2", "h3", "p", "figcaption", "td", "th"):
            self.text = None


def read_report(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page
