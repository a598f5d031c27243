"""``dbrain admin``: bootstrap the data centre (sites and users) from the shell."""

from __future__ import annotations

import os
import sys

import typer

admin_app = typer.Typer(
    help="Data-centre administration: create the instance administrator, the first admin of a site and other users.",
    no_args_is_help=True,
)


@admin_app.command("create-user")
def create_user(
    username: str = typer.Option(..., "--username", help="Login name."),
    site: str = typer.Option(None, "--site", help="Site name (created if missing); not for instance_admin."),
    role: str = typer.Option(
        "admin",
        "--role",
        help="admin, clinician, technologist, researcher, therapist, or instance_admin (manages sites, belongs to none).",
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin (else $DBRAIN_ADMIN_PASSWORD, else a prompt)."
    ),
    db: str = typer.Option(None, "--db", help="Database URL (default: $DBRAIN_DATABASE_URL or SQLite under $DBRAIN_HOME)."),
):
    """Create a user (and its site); the way to make the first admin and the only way to make an instance_admin."""
    from sqlalchemy import select

    from ..errors import ParameterError
    from ..server.auth import hash_password, password_problem
    from ..server.db import Site, User, make_engine, make_sessionmaker, migrate
    from ..server.provenance import record_row
    from ..server.roles import INSTANCE_ADMIN, ROLES
    from ..server.settings import Settings
    from ..utils.check import _check_option

    _check_option("--role", role, list(ROLES))
    if role == INSTANCE_ADMIN and site is not None:
        raise ParameterError("an instance_admin belongs to no site: leave out --site")
    if role != INSTANCE_ADMIN and not site:
        raise ParameterError(f"a {role} belongs to a site: give --site NAME")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("DBRAIN_ADMIN_PASSWORD"):
        password = os.environ["DBRAIN_ADMIN_PASSWORD"]
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, [username, site, "dbrain"])
    if problem:
        raise ParameterError(problem)
    settings = Settings(db_url=db)
    engine = make_engine(settings.db_url)
    try:
        migrate(engine)
        with make_sessionmaker(engine, settings)() as session:
            if session.scalar(select(User).where(User.username == username)) is not None:
                raise ParameterError(f"user {username!r} exists")
            row = None
            if site is not None:
                row = session.scalar(select(Site).where(Site.name == site))
                if row is None:
                    row = Site(name=site)
                    session.add(row)
                    session.flush()
            user = User(username=username, password_hash=hash_password(password), role=role, site_id=row.id if row else None)
            session.add(user)
            record_row(session, "user.create", user, actor="admin-cli")
            session.commit()
            where = f"at site {site!r} (site {row.id})" if row is not None else "for the whole instance (no site)"
            typer.echo(f"created {role} {username!r} (user {user.id}) {where}")
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
