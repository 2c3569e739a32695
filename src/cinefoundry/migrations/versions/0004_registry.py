"""registry: trained models with lineage, and the title grants each relied on

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("recipe", sa.String(100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("base_weights", sa.Text(), nullable=True),
        sa.Column("lora_rank", sa.Integer(), nullable=True),
        sa.Column("code_version", sa.String(100), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("licence", sa.String(300), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _fk("models", "dataset_version_id", "dataset_versions"),
        _fk("models", "parent_id", "models"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", "number", name=op.f("uq_models_name_number")),
    )
    for column in ("name", "tenant", "dataset_version_id"):
        op.create_index(op.f(f"ix_models_{column}"), "models", [column])
    op.create_table(
        "model_grants",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        _fk("model_grants", "grant_id", "rights_grants"),
        _fk("model_grants", "model_id", "models"),
        _fk("model_grants", "title_id", "titles"),
        sa.PrimaryKeyConstraint("model_id", "title_id", name=op.f("pk_model_grants")),
    )
    for column in ("grant_id", "title_id"):
        op.create_index(op.f(f"ix_model_grants_{column}"), "model_grants", [column])


def downgrade() -> None:
    for table in ("model_grants", "models"):
        op.drop_table(table)
