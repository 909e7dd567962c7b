"""The settings model: documented fields, environment and ``urbis.toml`` sources, refused secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from urbis.core.settings import DEV_SECRET, Settings

LONG_SECRET = "a-production-secret-that-is-long-enough-0123456789"


@pytest.fixture(autouse=True)
def _clean(clean_environment: None) -> None:
    """Every test here starts from a clean environment."""


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_field_is_documented(name: str) -> None:
    description = Settings.model_fields[name].description
    assert description is not None
    assert description.strip(), f"setting {name!r} has an empty description"


def test_there_are_settings_to_check() -> None:
    # Guards the parametrised test above against passing vacuously.
    assert {"environment", "data_dir", "database_url", "secret_key", "host", "port"} <= set(Settings.model_fields)


def test_safe_local_defaults() -> None:
    settings = Settings()
    assert settings.environment == "development"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.data_dir == Path("var")
    assert settings.database_url is None
    assert settings.ngsild_open is False
    assert settings.effective_base_url == "http://127.0.0.1:8000"


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    assert Settings().effective_database_url == "sqlite:///var/urbis.db"
    data_dir = tmp_path / "state"
    settings = Settings(data_dir=data_dir)
    assert settings.effective_database_url == f"sqlite:///{(data_dir / 'urbis.db').as_posix()}"


def test_explicit_database_url_wins_over_data_dir() -> None:
    url = "postgresql+psycopg://urbis@db.example/urbis"
    assert Settings(database_url=url, data_dir=Path("elsewhere")).effective_database_url == url


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBIS_PORT", "9123")
    monkeypatch.setenv("URBIS_HOST", "0.0.0.0")
    monkeypatch.setenv("URBIS_DATA_DIR", "/srv/urbis")
    monkeypatch.setenv("URBIS_NGSILD_OPEN", "true")
    monkeypatch.setenv("URBIS_PUBLIC_READ_TENANTS", '["alpha", "beta"]')
    monkeypatch.setenv("URBIS_CONTEXT_FETCH_TIMEOUT", "1.5")
    settings = Settings()
    assert settings.port == 9123
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == Path("/srv/urbis")
    assert settings.ngsild_open is True
    assert settings.public_read_tenants == ["alpha", "beta"]
    assert settings.context_fetch_timeout == 1.5
    assert settings.effective_database_url == "sqlite:////srv/urbis/urbis.db"


def test_environment_variables_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBIS_PORT", "70000")
    with pytest.raises(ValidationError):
        Settings()


def test_explicit_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBIS_PORT", "9123")
    assert Settings(port=9999).port == 9999


def test_urbis_toml_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "urbis.toml").write_text(
        'port = 8111\ndefault_tenant = "springfield"\npublic_read_tenants = ["springfield"]\n'
    )
    settings = Settings()
    assert settings.port == 8111
    assert settings.default_tenant == "springfield"
    assert settings.public_read_tenants == ["springfield"]


def test_environment_beats_urbis_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "urbis.toml").write_text('port = 8111\ndefault_tenant = "springfield"\n')
    monkeypatch.setenv("URBIS_PORT", "8222")
    settings = Settings()
    assert settings.port == 8222  # from the environment
    assert settings.default_tenant == "springfield"  # still from the file


def test_unknown_key_in_urbis_toml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "urbis.toml").write_text("prot = 8111\n")
    with pytest.raises(ValidationError):
        Settings()


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="URBIS_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="URBIS_SECRET_KEY"):
        Settings(environment="production", secret_key=DEV_SECRET)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="URBIS_SECRET_KEY"):
        Settings(environment="production", secret_key="x" * 31)


def test_production_refuses_default_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBIS_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="URBIS_SECRET_KEY"):
        Settings()


def test_production_accepts_a_long_random_secret() -> None:
    settings = Settings(environment="production", secret_key=LONG_SECRET)
    assert settings.secret_key == LONG_SECRET


@pytest.mark.parametrize("environment", ["development", "test"])
def test_placeholder_secret_is_fine_outside_production(environment: str) -> None:
    assert Settings(environment=environment).secret_key == DEV_SECRET  # type: ignore[arg-type]
