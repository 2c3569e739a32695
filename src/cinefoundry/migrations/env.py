"""Alembic environment: runs migrations on the engine passed in by `cinefoundry.migrations`."""

from alembic import context

from cinefoundry.migrations import target_metadata

engine = context.config.attributes.get("engine")
if engine is None:
    raise RuntimeError("run migrations through cinefoundry.migrations.upgrade(), which passes the engine")

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch rebuild drops and recreates a table that others reference; SQLite's procedure for schema
        # changes turns foreign keys off outside the transaction and checks them all before committing.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
            raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
    connection.commit()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
