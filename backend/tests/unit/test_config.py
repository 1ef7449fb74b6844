"""Settings: URL normalisation and masking."""

import pytest

from app.config import Settings, mask_url, normalize_url


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:p@db:5432/bahr",
        "postgresql+psycopg://u:p@db:5432/bahr",
        "postgres://u:p@db:5432/bahr",
    ],
)
def test_normalize_url_selects_psycopg3_for_every_accepted_scheme(given: str) -> None:
    url = normalize_url(given)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "u",
        "p",
        "db",
        5432,
        "bahr",
    )


@pytest.mark.parametrize(
    "given", ["postgresql+psycopg2://u@h/d", "mysql://u@h/d", "sqlite:///x.db"]
)
def test_normalize_url_refuses_other_drivers_and_databases(given: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        normalize_url(given)


def test_mask_url_hides_the_password_only() -> None:
    shown = mask_url("postgresql://bahr:s3cret@db.example:5432/bahr")
    assert "s3cret" not in shown
    assert shown == "postgresql://bahr:***@db.example:5432/bahr"


def test_mask_url_of_unset_url() -> None:
    assert mask_url(None) == "<not set>"


def test_settings_repr_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://bahr:s3cret@db/bahr")
    settings = Settings()
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings)
    assert settings.app_url().password == "s3cret"


def test_pool_defaults_follow_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POOL_SIZE", "MAX_OVERFLOW", "POOL_PRE_PING"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert (settings.pool_size, settings.max_overflow, settings.pool_pre_ping) == (5, 10, True)
    assert settings.echo is False
    assert settings.pool_timeout > 0
    assert settings.statement_timeout_ms > 0
    assert settings.slow_query_ms > 0


def test_blank_database_url_means_the_embedded_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "  ")
    settings = Settings(_env_file=None)
    assert settings.uses_embedded
    assert settings.app_url().drivername == "postgresql+psycopg"
    assert "host" in settings.app_url().query


def test_migration_url_falls_back_to_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/bahr")
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    assert Settings(_env_file=None).migration_url().username == "app"
    monkeypatch.setenv("MIGRATION_DATABASE_URL", "postgresql://owner@db/bahr")
    assert Settings(_env_file=None).migration_url().username == "owner"
