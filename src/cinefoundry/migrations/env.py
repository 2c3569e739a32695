"""Alembic environment: runs migrations on the engine passed in by `cinefoundry.migrations`."""

from alembic import context

from cinefoundry.migrations import target_metadata

engine = context.config.attributes.get("engine")
if engine is None:
    raise RuntimeError("run migrations through cinefoundry.migrations.upgrade(), which passes the engine")

with engine.begin() as connection:
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
