"""``dbrain admin``: bootstrap the data centre (sites and users) from the shell."""

from __future__ import annotations

import os
import sys

import typer

admin_app = typer.Typer(help="Data-centre administration: create the first admin and other users.", no_args_is_help=True)


@admin_app.command("create-user")
def create_user(
    username: str = typer.Option(..., "--username", help="Login name."),
    site: str = typer.Option(..., "--site", help="Site name (created if missing)."),
    role: str = typer.Option("admin", "--role", help="admin, clinician, technologist or researcher."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin (else $DBRAIN_ADMIN_PASSWORD, else a prompt)."),
    db: str = typer.Option(None, "--db", help="Database URL (default: $DBRAIN_DATABASE_URL or SQLite under $DBRAIN_HOME)."),
):
    """Create a user (and its site); the way to make the first admin."""
    from sqlalchemy import select

    from ..errors import ParameterError
    from ..server.auth import hash_password
    from ..server.db import ROLES, Site, User, make_engine, make_sessionmaker, migrate
    from ..server.provenance import record_row
    from ..server.settings import Settings
    from ..utils.check import _check_option

    _check_option("--role", role, list(ROLES))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("DBRAIN_ADMIN_PASSWORD"):
        password = os.environ["DBRAIN_ADMIN_PASSWORD"]
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise ParameterError("the password must have at least 10 characters")
    settings = Settings(db_url=db)
    engine = make_engine(settings.db_url)
    try:
        migrate(engine)
        with make_sessionmaker(engine, settings)() as session:
            if session.scalar(select(User).where(User.username == username)) is not None:
                raise ParameterError(f"user {username!r} exists")
            row = session.scalar(select(Site).where(Site.name == site))
            if row is None:
                row = Site(name=site)
                session.add(row)
                session.flush()
            user = User(username=username, password_hash=hash_password(password), role=role, site_id=row.id)
            session.add(user)
            record_row(session, "user.create", user, actor="admin-cli")
            session.commit()
            typer.echo(f"created {role} {username!r} (user {user.id}) at site {site!r} (site {row.id})")
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
