"""Secrets never reach the process list, the logs or a screen (issue 16: 1, 11 and 14).

* Finding 1: ``backup`` and ``restore`` run pg_dump / pg_restore / psql through a recording
  shim found via ``PG_BINDIR``; every argv they got is read back and must hold no password,
  whether the password came in the URL's user info or in its ``?password=`` query.
* Finding 11: ``roles setup`` stores a password containing ``:word`` and ``\\:`` verbatim (read
  back from ``pg_authid`` and checked against its SCRAM verifier), and never echoes it.
* Finding 14: URLs shown to people hide ``password`` and ``sslpassword`` in the query too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy.engine import URL, make_url
from typer.testing import CliRunner

from app.cli import app
from app.config import get_settings, libpq_url, mask_url
from app.db import roles
from app.db.server import find_binaries
from tests.conftest import ADMIN_URL, fresh_database, migrated_database

CANARY = "canary-pw-71f3"


@pytest.fixture
def settings_reset() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def recording_bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PG_BINDIR whose client tools append their argv (one per line) to ``argv.log``."""
    real = find_binaries().bindir
    shim = tmp_path / "bin"
    shim.mkdir()
    record = tmp_path / "argv.log"
    for tool in ("postgres", "initdb", "pg_ctl"):
        (shim / tool).symlink_to(real / tool)
    for tool in ("pg_dump", "pg_restore", "psql"):
        script = shim / tool
        script.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" "{tool}" "$@" >> "{record}"\n'
            f'if [ -n "$PGPASSFILE" ]; then stat -c "passfile mode %a" "$PGPASSFILE" '
            f'>> "{record}"; fi\n'
            f'exec "{real / tool}" "$@"\n'
        )
        script.chmod(0o755)
    monkeypatch.setenv("PG_BINDIR", str(shim))
    return record


def _with_password(url: URL, where: str) -> URL:
    """``url`` carrying a password: its own over TCP, a canary over the trusted socket."""
    password = url.password or CANARY
    if where == "userinfo":
        return url.set(password=password)
    return url._replace(password=None).update_query_dict({"password": str(password)})


@pytest.mark.parametrize("where", ["userinfo", "query"])
def test_backup_and_restore_put_no_password_in_any_argv(
    where: str,
    recording_bindir: Path,
    tmp_path: Path,
    use_database: Callable[[URL, URL], None],
) -> None:
    source, source_app = migrated_database(f"sec_argv_{where}")
    target, target_app = fresh_database(f"{ADMIN_URL.database}_sec_argv_{where}_dst")
    runner = CliRunner()
    dump = tmp_path / "bahr.dump"
    passwords = []
    for plain_owner, app_url, args in (
        (source, source_app, ["backup", str(dump)]),
        (target, target_app, ["restore", str(dump)]),
    ):
        owner = _with_password(plain_owner, where)
        passwords.append(str(owner.password or owner.query["password"]))
        use_database(owner, app_url)
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    recorded = recording_bindir.read_text()
    assert "pg_dump" in recorded
    assert "pg_restore" in recorded
    for password in passwords:
        assert password not in recorded
        assert quote(password, safe="") not in recorded
    # The password travelled in a file only its owner can read.
    assert "passfile mode 600" in recorded


def test_password_options_say_they_are_visible_in_ps() -> None:
    runner = CliRunner()
    for args in (["users", "create", "--help"], ["roles", "setup", "--help"]):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "visible to other users" in " ".join(result.stdout.split()), args


def _scram_matches(password: str, verifier: str) -> bool:
    """Whether ``verifier`` (pg_authid.rolpassword, SCRAM-SHA-256) is that of ``password``."""
    method, _, rest = verifier.partition("$")
    assert method == "SCRAM-SHA-256", verifier
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


@pytest.fixture
def app_role_password_restored() -> Iterator[None]:
    """Roles belong to the whole server: put bahr_app's verifier back after the test."""
    with psycopg.connect(libpq_url(ADMIN_URL), autocommit=True) as conn:
        row = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (roles.APP,)
        ).fetchone()
    assert row is not None
    yield
    with psycopg.connect(libpq_url(ADMIN_URL), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(roles.APP), psycopg.sql.Literal(row[0])
            )
        )


def _stored_verifier() -> str:
    with psycopg.connect(libpq_url(ADMIN_URL), autocommit=True) as conn:
        row = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (roles.APP,)
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("password", ["has :word inside", "back\\:slash :x", "echo-canary-plain"])
def test_roles_setup_stores_a_password_verbatim_and_never_echoes_it(
    password: str,
    app_role_password_restored: None,
    settings_reset: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = f"{ADMIN_URL.database}_sec_rolepw"
    fresh_database(name)
    caplog.set_level(logging.INFO)
    result = CliRunner().invoke(
        app,
        [
            "roles",
            "setup",
            "--database",
            name,
            "--admin-url",
            ADMIN_URL.render_as_string(hide_password=False),
        ],
        env={"BAHR_APP_PASSWORD": password, "ECHO": "true"},
    )
    assert result.exit_code == 0, result.output
    assert _scram_matches(password, _stored_verifier())
    assert password not in result.output
    assert password not in caplog.text


def test_roles_setup_can_prompt_for_the_passwords(
    app_role_password_restored: None, settings_reset: None
) -> None:
    name = f"{ADMIN_URL.database}_sec_rolepw"
    fresh_database(name)
    password = "typed at :the prompt"
    result = CliRunner().invoke(
        app,
        [
            "roles",
            "setup",
            "--prompt-passwords",
            "--database",
            name,
            "--admin-url",
            ADMIN_URL.render_as_string(hide_password=False),
        ],
        # owner: left empty, twice (keeps its password); app: twice, for the confirmation.
        input=f"\n\n{password}\n{password}\n",
        env={"BAHR_OWNER_PASSWORD": "", "BAHR_APP_PASSWORD": ""},
    )
    assert result.exit_code == 0, result.output
    assert _scram_matches(password, _stored_verifier())
    assert password not in result.output


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:top-secret@db.example/bahr?password=q-secret&sslmode=require",
        "postgresql://u@/bahr?host=/run/pg&password=q-secret&sslpassword=ssl-secret",
        "postgresql://u@h/bahr?sslpassword=ssl-secret&password=q-secret",
    ],
)
def test_mask_url_hides_query_passwords(url: str) -> None:
    shown = mask_url(url)
    for secret in ("top-secret", "q-secret", "ssl-secret"):
        assert secret not in shown
    assert "***" in shown
    assert make_url(shown).database == "bahr"
    if "sslmode" in url:
        assert "sslmode=require" in shown


def test_db_url_command_hides_query_passwords(settings_reset: None) -> None:
    given = "postgresql://bahr_app@/bahr?host=/tmp/x&password=q-secret&sslpassword=ssl-secret"
    result = CliRunner().invoke(app, ["db", "url"], env={"DATABASE_URL": given})
    assert result.exit_code == 0
    assert "q-secret" not in result.stdout
    assert "ssl-secret" not in result.stdout
    assert "bahr_app@" in result.stdout
    assert repr(get_settings()).count("secret") == 0
