"""titles.kind may be 'element': a studio's library of effects shot on black (fire, explosions, sparks)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('feature', 'short', 'episode', 'trailer')"
NEW = "kind IN ('feature', 'short', 'episode', 'trailer', 'element')"


def _kinds(check: str) -> None:
    # SQLite keeps a CHECK in the table's DDL: batch mode rebuilds the table (env.py turns foreign keys off
    # for it, as SQLite's own procedure for schema changes asks), PostgreSQL drops and adds the constraint.
    with op.batch_alter_table("titles") as batch:
        batch.drop_constraint(op.f("ck_titles_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_titles_kind"), check)


def upgrade() -> None:
    _kinds(NEW)


def downgrade() -> None:
    _kinds(OLD)  # fails while element titles exist: remove them first, nothing is deleted here
