"""Click commands (flask --app app …): parse arguments, call a service, print. The only place that prints."""

from __future__ import annotations

import click
from flask import Flask
from flask_migrate import upgrade

from models import db
from services.rulebooks import ensure_shipped


def register_cli(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Create or upgrade the database to the newest schema and load the shipped rulebook."""
        upgrade()
        ensure_shipped()
        db.session.commit()
        click.echo("数据库已就绪")
