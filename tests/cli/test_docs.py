"""``docs/configuration.md`` is generated from the settings model and must never drift from it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from urbis.cli import app
from urbis.cli.docs import settings_reference_markdown
from urbis.core.settings import DEV_SECRET, Settings

CONFIGURATION_MD = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_md_is_the_generated_reference() -> None:
    assert CONFIGURATION_MD.is_file(), f"{CONFIGURATION_MD} is missing"
    assert CONFIGURATION_MD.read_text(encoding="utf-8") == settings_reference_markdown(), (
        "docs/configuration.md is out of date; regenerate it: urbis docs settings -o docs/configuration.md"
    )


def _table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| `URBIS_"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


def test_reference_has_a_row_per_setting_with_its_description() -> None:
    rows = _table_rows(settings_reference_markdown())
    assert list(rows) == [f"URBIS_{name.upper()}" for name in Settings.model_fields]
    for name, field in Settings.model_fields.items():
        _variable, kind, default, description = rows[f"URBIS_{name.upper()}"]
        assert kind and default
        assert description == field.description


def test_reference_types_and_defaults() -> None:
    rows = _table_rows(settings_reference_markdown())
    assert rows["URBIS_PORT"][1:3] == ["integer (≥ 0, ≤ 65535)", "`8000`"]
    assert rows["URBIS_ENVIRONMENT"][1:3] == ["one of `development`, `production`, `test`", "`development`"]
    assert rows["URBIS_DATABASE_URL"][1:3] == ["string, optional", "(none)"]
    assert rows["URBIS_DATA_DIR"][1:3] == ["path", "`var`"]
    assert rows["URBIS_NGSILD_OPEN"][1:3] == ["boolean", "`false`"]
    assert rows["URBIS_PUBLIC_READ_TENANTS"][1:3] == ["list of strings", "`[]`"]
    assert rows["URBIS_CONTEXT_FETCH_TIMEOUT"][1:3] == ["number (> 0)", "`5.0`"]
    assert rows["URBIS_SECRET_KEY"][2] == f"`{DEV_SECRET}`"


def test_urbis_docs_settings_prints_the_reference() -> None:
    result = CliRunner().invoke(app, ["docs", "settings"])
    assert result.exit_code == 0, result.output
    assert result.stdout == settings_reference_markdown()


def test_urbis_docs_settings_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "configuration.md"
    result = CliRunner().invoke(app, ["docs", "settings", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == settings_reference_markdown()
