"""Prompt templates, kept as files beside this module (one per prompt) and loaded once.

Templates use `$name` placeholders (string.Template), so JSON examples inside them need no
escaping. Edit the `.md` files to tune behaviour; the code only fills in the blanks.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    """The prompt `name` with every placeholder filled (a missing value is a KeyError)."""
    return template(name).substitute({key: str(value) for key, value in values.items()})
