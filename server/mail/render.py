"""Every email from its folder under `templates/`: `subject.txt`, `body.html` and `body.txt`, one context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # compiled once per process: no check of the template files on every email
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def render(name: str, context: Mapping[str, Any]) -> RenderedEmail:
    """The email `name` (a folder of templates) for `context`; its subject on one line, whitespace collapsed."""
    subject = environment.get_template(f"{name}/subject.txt").render(context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        html=environment.get_template(f"{name}/body.html").render(context),
        text=environment.get_template(f"{name}/body.txt").render(context),
    )
