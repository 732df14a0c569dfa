"""Alembic environment, driven from code (`nurturedesk.core.db`), never from an alembic.ini.

The caller hands us an open connection in `config.attributes["connection"]`, so migrations run
inside the same SQLite file and pragmas as the app, and work in a frozen bundle.
"""

from alembic import context

from nurturedesk.core.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only ALTER TABLE by copying it
)
with context.begin_transaction():
    context.run_migrations()
