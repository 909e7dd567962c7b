"""``urbis docs ...``: reference documents generated from the code, so they never drift from it.

``docs/configuration.md`` is the output of ``urbis docs settings``; a test
checks that the committed file equals what this module generates.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic.fields import FieldInfo

from urbis.core.settings import Settings

docs_app = typer.Typer(help="Print reference documentation generated from the code.", no_args_is_help=True)

ENV_PREFIX = "URBIS_"

_INTRO = """\
# Configuration reference

<!-- Generated from urbis.core.settings.Settings by `urbis docs settings > docs/configuration.md`; do not edit by hand. -->

Urbis reads every setting from, in order of precedence:

1. values given on the command line (`urbis serve --port 8080`, `--host`, `--data-dir`, `--workers`);
2. environment variables named `URBIS_<SETTING>` (e.g. `URBIS_PORT=8080`);
3. a file `urbis.toml` in the working directory, with the setting names in lower case as keys;
4. the defaults below: a SQLite database under `./var`, the server bound to 127.0.0.1.

List values are given as JSON in environment variables (`URBIS_PUBLIC_READ_TENANTS='["city"]'`)
and as TOML arrays in `urbis.toml`. Unknown keys in `urbis.toml` are refused.
With `URBIS_ENVIRONMENT=production`, Urbis refuses to start unless `URBIS_SECRET_KEY`
is set to a random value of at least 32 characters.

`urbis serve --help-settings` prints the same list in the terminal.

Example `urbis.toml`:

```toml
environment = "production"
database_url = "postgresql+psycopg://urbis@db.internal/urbis"
host = "0.0.0.0"
port = 8000
base_url = "https://city.example.org"
default_tenant = "springfield"
workers = 4
```

"""

_SCALAR_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
}


def _type_name(annotation: Any) -> str:
    """A reader's name for a settings type: ``integer``, ``string, optional``, ``one of ...``."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        name = " or ".join(_type_name(member) for member in members)
        return f"{name}, optional" if len(members) < len(get_args(annotation)) else name
    if origin is list:
        (item,) = get_args(annotation) or (str,)
        return f"list of {_type_name(item)}s"
    return _SCALAR_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(field: FieldInfo) -> str:
    """The numeric limits of a field, e.g. ``≥ 1, ≤ 64``."""
    parts = []
    for constraint in field.metadata:  # annotated_types.Gt, Ge, Lt, Le from Field(gt=..., ...)
        for kind, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(constraint, kind, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    """The default as it would be written in an environment variable."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    """Text made safe for one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def settings_reference_markdown() -> str:
    """The configuration reference: every setting with its variable, type, default and description."""
    lines = [
        "## Settings",
        "",
        "| Variable | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        kind = _type_name(field.annotation)
        bounds = _bounds(field)
        if bounds:
            kind = f"{kind} ({bounds})"
        cells = [f"`{ENV_PREFIX}{name.upper()}`", kind, _default(field), field.description or ""]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return _INTRO + "\n".join(lines) + "\n"


@docs_app.command("settings")
def settings_reference(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """The configuration reference (Markdown), as in docs/configuration.md."""
    text = settings_reference_markdown()
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")
