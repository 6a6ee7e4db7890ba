"""Loading the tracking snippet the shop owner pasted (DEMO_SNIPPET or DEMO_SNIPPET_FILE)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def load_snippet(config: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Return ``(snippet, problem)``: the snippet HTML, or None and why it is missing.

    The file is read on every page so that a snippet written after start-up is picked up.
    """
    text = config.get("DEMO_SNIPPET")
    if text and str(text).strip():
        return str(text), None
    path = config.get("DEMO_SNIPPET_FILE")
    if not path:
        return None, "Tracking is not configured: set DEMO_SNIPPET_FILE or DEMO_SNIPPET."
    try:
        content = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None, f"Tracking is not configured: snippet file {path} cannot be read."
    if not content.strip():
        return None, f"Tracking is not configured: snippet file {path} is empty."
    return content, None
