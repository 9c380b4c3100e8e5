#!/usr/bin/env python3
"""Checks the links of the built HTML docs, offline.

    scripts/check-doc-links.py [DOC_DIR] [--crate NAME]...

DOC_DIR defaults to target/doc. Every page of the given crates (default:
the workspace's, polysync and polysync_*) is read; every relative href and
src in it must name a file that exists under DOC_DIR (a directory counts if
it has an index.html), and a #fragment must name an id (or a name) on that
page. rustdoc's own source pages count their lines by id, so "#12-30"
checks line 12. External links (http, https, mailto, ...) are not checked:
this runs offline. Links from the pages of other crates (the dependencies'
docs, if built) are not checked, links into them are.

rustdoc flags intra-doc links it cannot resolve (with -D warnings), but not
one it resolved to a crate whose docs it does not know where to find: it
then writes the path itself as the href ("polysync::RLock", "tokio::..."),
silently. That happens for a dependency built with --no-deps (link it on
docs.rs instead), and for polysync's items in the backends' docs when a
backend is documented before polysync is (cargo documents the workspace's
crates in parallel, and rustdoc links a crate's docs only if their folder
exists when it starts): document polysync first, as .ci/run does
(`cargo doc -p polysync --no-deps`, then `cargo doc --workspace --no-deps`).
Redirect pages (an item re-exported from a private module) are followed
for #fragments, as rustdoc's redirect script does in a browser.

Exit status 0 if every link resolves, 1 otherwise (each dead link is
printed as "page: target"), 2 on usage errors. Python 3 standard library
only.
"""

import os
import re
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

LINE_FRAGMENT = re.compile(r"^(\d+)(?:-\d+)?$")

# rustdoc's optional scripts: a trait's page always asks for its list of
# implementors in other crates (trait.impl/...js, type.impl/...js), which
# exists only when such crates were documented too.
OPTIONAL = ("trait.impl/", "type.impl/")

# Schemes of real URLs. Anything else before a colon is a path that rustdoc
# left as written, e.g. `[x](tokio::runtime::Handle)` when it could not
# resolve it (it does not warn then): "tokio:" is not a scheme.
SCHEMES = {"http", "https", "mailto", "ftp", "data", "javascript", "file"}


class Page(HTMLParser):
    """Collects a page's links and ids."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.ids = set()
        self.redirect = None

    def handle_starttag(self, tag, attrs):
        if tag == "meta":
            # rustdoc's redirect pages (an item re-exported from a private
            # module, say): a fragment is checked on the page they name.
            attrs_dict = dict(attrs)
            if (attrs_dict.get("http-equiv") or "").lower() == "refresh":
                content = attrs_dict.get("content") or ""
                match = re.search(r"url=(.*)$", content, re.IGNORECASE)
                if match:
                    self.redirect = match.group(1).strip()
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name == "href" and tag in ("a", "link", "area"):
                self.links.append(value)
            elif name == "src" and tag in ("img", "script", "iframe"):
                self.links.append(value)

    handle_startendtag = handle_starttag


class Docs:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.pages = {}

    def page(self, path):
        """The parsed page at `path` (a real path), cached."""
        if path not in self.pages:
            parser = Page()
            with open(path, encoding="utf-8", errors="replace") as f:
                parser.feed(f.read())
            parser.close()
            self.pages[path] = parser
        return self.pages[path]

    def check(self, page_path):
        """The dead links of one page."""
        dead = []
        here = os.path.dirname(page_path)
        for link in self.page(page_path).links:
            parts = urlsplit(link)
            if parts.scheme.lower() in SCHEMES or parts.netloc or link.startswith("//"):
                continue  # external (http, https, mailto, javascript, data)
            if parts.scheme:
                dead.append(link)  # a path written as a URL: "tokio::..."
                continue
            path, fragment = unquote(parts.path), parts.fragment
            target = page_path if path == "" else os.path.normpath(os.path.join(here, path))
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            if not os.path.isfile(target):
                rel = os.path.relpath(target, self.root).replace(os.sep, "/")
                if not rel.startswith(OPTIONAL):
                    dead.append(link)
                continue
            if fragment and target.endswith(".html"):
                for _ in range(5):
                    redirect = self.page(target).redirect
                    if redirect is None:
                        break
                    target = os.path.normpath(
                        os.path.join(os.path.dirname(target), unquote(urlsplit(redirect).path))
                    )
                    if not os.path.isfile(target):
                        break
                if not os.path.isfile(target):
                    dead.append(link)
                    continue
                ids = self.page(target).ids
                line = LINE_FRAGMENT.match(fragment)
                # rustdoc writes some ids percent-encoded, some not.
                found = fragment in ids or unquote(fragment) in ids
                if not found and not (line and line.group(1) in ids):
                    dead.append(link)
        return dead


def main(argv):
    args = argv[1:]
    crates = []
    root = None
    while args:
        arg = args.pop(0)
        if arg == "--crate" and args:
            crates.append(args.pop(0))
        elif arg in ("-h", "--help"):
            print(__doc__)
            return 0
        elif root is None and not arg.startswith("-"):
            root = arg
        else:
            print(f"usage: {argv[0]} [DOC_DIR] [--crate NAME]...", file=sys.stderr)
            return 2
    root = root or "target/doc"
    if not os.path.isdir(root):
        print(f"{root}: no such directory (build the docs first)", file=sys.stderr)
        return 2
    if not crates:
        crates = sorted(
            d
            for d in os.listdir(root)
            if (d == "polysync" or d.startswith("polysync_"))
            and os.path.isfile(os.path.join(root, d, "index.html"))
        )
    docs = Docs(root)
    pages = dead_count = 0
    for crate in crates:
        top = os.path.join(docs.root, crate)
        if not os.path.isdir(top):
            print(f"{crate}: not in {root}", file=sys.stderr)
            return 2
        # The crate's pages and its source pages (src/CRATE).
        for base in (top, os.path.join(docs.root, "src", crate)):
            for dirpath, _, files in os.walk(base):
                for name in sorted(files):
                    if not name.endswith(".html"):
                        continue
                    path = os.path.join(dirpath, name)
                    pages += 1
                    for link in docs.check(path):
                        dead_count += 1
                        print(f"{os.path.relpath(path, docs.root)}: {link}")
    if dead_count:
        print(
            "(a path such as polysync::RLock as a link: see the header of"
            " scripts/check-doc-links.py)",
            file=sys.stderr,
        )
    print(
        f"checked {pages} pages of {', '.join(crates)}: "
        + (f"{dead_count} dead links" if dead_count else "every link resolves"),
        file=sys.stderr,
    )
    return 1 if dead_count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
