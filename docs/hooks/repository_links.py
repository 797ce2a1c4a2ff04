"""MkDocs hook: a link from a page to a file of the repository outside docs/ names the file.

The site holds docs/ only, so such a link (a page pointing at `layers/conv.py`, or TEACHING.md,
which lives at the top of the repository and is included into the Teaching page) has nowhere
to go. Where its target exists in the repository, relative to the page or to the top, the
link becomes the path in code type; a link to nothing is left alone, so the strict build
still fails on it.
"""
import re
from pathlib import Path

LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(([^)\s#]+)(#[^)\s]*)?\)")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^/")


def on_page_markdown(markdown, page, config, files):
    docs = Path(config["docs_dir"]).resolve()
    top = Path(config["config_file_path"]).resolve().parent
    page_folder = (docs / page.file.src_path).parent

    def rewrite(match):
        text, target = match.group(1), match.group(2)
        if EXTERNAL.match(target) or files.get_file_from_path(_inside(docs, page_folder / target)):
            return match.group(0)
        for candidate in (page_folder / target, top / target):
            candidate = candidate.resolve()
            if candidate.exists() and top in candidate.parents and docs not in candidate.parents:
                path = candidate.relative_to(top).as_posix() + ("/" if candidate.is_dir() else "")
                shown = text.strip("`")
                return f"`{path}`" if shown in (target, path) else f"{text} (`{path}`)"
        return match.group(0)

    return LINK.sub(rewrite, markdown)


def _inside(docs, path):
    try:
        return path.resolve().relative_to(docs).as_posix()
    except ValueError:
        return ""
