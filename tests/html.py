"""One HTML helper for the tests: parse a page (stdlib html.parser), select elements, read their text.

    page = parse(response.get_data(as_text=True))
    page.text_of("unit-score")               # the text of #unit-score, whitespace collapsed
    page.one("table.ranking tr#unit-U01")    # exactly one match, else the test fails with the selector
    page.all("[role=alert]")                 # every match, in document order
    text_of(html, "unit-score")              # the same, straight from a string
    rows(html, "standings-table")            # each body row's cell texts

Selectors: a tag, `#id`, `.class`, `[attr]`, `[attr=value]` (quotes optional), combined in one compound
(`td.points[data-rule=D01]`), and compounds separated by spaces (descendant) or `>` (child). Enough for our
templates, and it fails loudly on anything it does not understand rather than matching nothing.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["Node", "parse", "rows", "text_of"]

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
# Elements whose text is set apart from the next one's (a space between them in `text`).
BLOCK = {"br", "dd", "div", "dt", "h1", "h2", "h3", "h4", "li", "option", "p", "section", "td", "th", "tr"}
# Elements whose end tag HTML lets an author leave out: a new sibling closes the open one.
IMPLIED_END = {
    "li": {"li"},
    "p": {"p", "div", "table", "ul", "ol", "section", "h1", "h2", "h3", "h4", "form"},
    "td": {"td", "th", "tr"},
    "th": {"td", "th", "tr"},
    "tr": {"tr", "tbody", "tfoot"},
    "option": {"option", "optgroup"},
    "dt": {"dt", "dd"},
    "dd": {"dt", "dd"},
}
_COMPOUND = re.compile(
    r"""(?P<tag>[a-zA-Z][\w-]*|\*)"""
    r"""|\#(?P<id>[\w-]+)"""
    r"""|\.(?P<cls>[\w-]+)"""
    r"""|\[(?P<attr>[\w:-]+)(?:(?P<op>[~^$*]?=)(?P<q>["']?)(?P<val>.*?)(?P=q))?\]"""
)


class Node:
    """An element (or the document, tag "#document") with its attributes and children."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None = None):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def __repr__(self) -> str:
        ident = f"#{self.attrs['id']}" if "id" in self.attrs else ""
        return f"<{self.tag}{ident} {self.text[:40]!r}>"

    # ---- reading
    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    @property
    def id(self) -> str | None:
        return self.attrs.get("id")

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def raw_text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in ("script", "style", "template"):
                parts.append(child.raw_text)
                if child.tag in BLOCK:
                    parts.append(" ")
        return "".join(parts)

    @property
    def text(self) -> str:
        """The visible text, whitespace collapsed and stripped."""
        return re.sub(r"\s+", " ", self.raw_text).strip()

    def descendants(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.descendants()

    # ---- selecting
    def all(self, selector: str) -> list[Node]:
        steps = _parse_selector(selector)
        return [node for node in self.descendants() if _matches_path(node, steps, self)]

    def one(self, selector: str) -> Node:
        found = self.all(selector)
        assert len(found) == 1, f"{selector!r}: {len(found)} elements, expected 1"
        return found[0]

    def first(self, selector: str) -> Node:
        found = self.all(selector)
        assert found, f"{selector!r}: not found"
        return found[0]

    def has(self, selector: str) -> bool:
        return bool(self.all(selector))

    def by_id(self, element_id: str) -> Node:
        return self.one(f"#{element_id}")

    def text_of(self, selector_or_id: str) -> str:
        """The text of the one element matching a selector; a bare name is taken as an id."""
        if re.fullmatch(r"[\w-]+", selector_or_id):
            selector_or_id = f"#{selector_or_id}"
        return self.one(selector_or_id).text

    def texts(self, selector: str) -> list[str]:
        return [n.text for n in self.all(selector)]

    def rows(self, table: str) -> list[list[str]]:
        """The text of each body row's cells of the one table matching `table` (a bare name is an id)."""
        if re.fullmatch(r"[\w-]+", table):
            table = f"#{table}"
        found = self.one(table)
        body = found.all("tbody > tr") or found.all("tr")
        return [
            [cell.text for cell in row.children if isinstance(cell, Node) and cell.tag == "td"]
            for row in body
        ]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        closes = {t for t, closers in IMPLIED_END.items() if tag in closers}
        while len(self.stack) > 1 and self.stack[-1].tag in closes:
            self.stack.pop()
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str | bytes) -> Node:
    """The document tree of a page or a fragment (bytes are read as UTF-8)."""
    if isinstance(html, bytes):
        html = html.decode("utf-8")
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def rows(html: str | bytes | Node, table: str) -> list[list[str]]:
    """The text of each body row's cells of a table, by id or selector."""
    node = html if isinstance(html, Node) else parse(html)
    return node.rows(table)


def text_of(html: str | bytes | Node, selector_or_id: str) -> str:
    """The text of the one element with that id (or matching that selector) in a page or fragment."""
    node = html if isinstance(html, Node) else parse(html)
    return node.text_of(selector_or_id)


# ---- selector matching


def _parse_compound(text: str) -> list[tuple]:
    tests: list[tuple] = []
    pos = 0
    while pos < len(text):
        match = _COMPOUND.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"selector not understood: {text!r} at {text[pos:]!r}")
        if match.group("tag") and match.group("tag") != "*":
            tests.append(("tag", match.group("tag").lower()))
        elif match.group("id"):
            tests.append(("id", match.group("id")))
        elif match.group("cls"):
            tests.append(("cls", match.group("cls")))
        elif match.group("attr"):
            tests.append(("attr", match.group("attr"), match.group("op"), match.group("val")))
        pos = match.end()
    return tests


def _parse_selector(selector: str) -> list[tuple[str, list[tuple]]]:
    """The compounds of "a b > c", each with how it relates to the one before (" " or ">")."""
    tokens = re.findall(r">|[^\s>\[]+(?:\[[^\]]*\][^\s>\[]*)*|\[[^\]]*\][^\s>]*", selector)
    steps: list[tuple[str, list[tuple]]] = []
    combinator = " "
    for token in tokens:
        if token == ">":
            combinator = ">"
            continue
        steps.append((combinator, _parse_compound(token)))
        combinator = " "
    if not steps:
        raise ValueError(f"empty selector {selector!r}")
    return steps


def _matches(node: Node, tests: list[tuple]) -> bool:
    for test in tests:
        kind = test[0]
        if kind == "tag" and node.tag != test[1]:
            return False
        if kind == "id" and node.attrs.get("id") != test[1]:
            return False
        if kind == "cls" and test[1] not in node.classes:
            return False
        if kind == "attr":
            _, name, op, val = test
            if name not in node.attrs:
                return False
            have = node.attrs[name]
            if op == "=" and have != val:
                return False
            if op == "~=" and val not in have.split():
                return False
            if op == "^=" and not have.startswith(val):
                return False
            if op == "$=" and not have.endswith(val):
                return False
            if op == "*=" and val not in have:
                return False
    return True


def _matches_path(node: Node, steps: list[tuple[str, list[tuple]]], scope: Node) -> bool:
    combinator, tests = steps[-1]
    if not _matches(node, tests):
        return False
    if len(steps) == 1:
        return True
    rest = steps[:-1]
    parent = node.parent
    if combinator == ">":
        return parent is not None and parent is not scope and _matches_path(parent, rest, scope)
    while parent is not None and parent is not scope:
        if _matches_path(parent, rest, scope):
            return True
        parent = parent.parent
    return False
