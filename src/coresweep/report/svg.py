"""Inline matplotlib SVG files into one HTML page without their ids colliding."""

from __future__ import annotations

import html
import re
from pathlib import Path

_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(href="#|url\(#)([^")]+)')


def inline_svg(path: Path, prefix: str, label: str) -> str:
    """The <svg> element of a file, metadata dropped, every id and reference prefixed.

    Matplotlib names its elements figure_1, axes_1, patch_1 ... in every file; two
    figures on one page would share those ids, so each gets its own prefix.
    """
    text = path.read_text(encoding="utf-8")
    if "<svg" not in text:
        raise ValueError(f"not an SVG file: {path}")
    text = _METADATA.sub("", _PROLOGUE.sub("", text, count=1))
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    label = html.escape(label, quote=True)
    return text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
