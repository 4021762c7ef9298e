"""Generated sections of the project's documents: every measurement tool writes its table between
its own pair of HTML-comment markers (``<!-- name:start -->`` ... ``<!-- name:end -->``), so that
rerunning the tool replaces its section and leaves the rest of the document alone."""
from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of the section ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(doc: Path, section: str, start: str, end: str) -> None:
    """Replace the text from ``start`` to ``end`` in ``doc`` by ``section`` (which holds both
    markers), or append it when the markers are not there yet."""
    text = doc.read_text() if doc.exists() else ""
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)
