"""provenance: generation records, likeness-guard decisions and performers' reference faces

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("watermark_id", sa.String(16), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version", sa.String(200), nullable=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(40), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("prompt_sha256", sa.String(64), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("licence", sa.String(300), nullable=False),
        sa.Column("attributions", sa.JSON(), nullable=False),
        sa.Column("parent_id", sa.String(40), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("generations", "model_id", "models"),
        _fk("generations", "parent_id", "generations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generations")),
        sa.UniqueConstraint("watermark_id", name=op.f("uq_generations_watermark_id")),
    )
    for column in ("model_id", "tenant", "prompt_sha256"):
        op.create_index(op.f(f"ix_generations_{column}"), "generations", [column])
    op.create_table(
        "likeness_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(20), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("performers", sa.JSON(), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("generation_id", sa.String(40), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("likeness_checks", "generation_id", "generations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_likeness_checks")),
    )
    for column in ("digest", "generation_id"):
        op.create_index(op.f(f"ix_likeness_checks_{column}"), "likeness_checks", [column])
    op.create_table(
        "performer_faces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("performer_id", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(2000), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _fk("performer_faces", "performer_id", "performers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performer_faces")),
        sa.UniqueConstraint("performer_id", "sha256", name=op.f("uq_performer_faces_performer_id_sha256")),
    )
    op.create_index(op.f("ix_performer_faces_performer_id"), "performer_faces", ["performer_id"])


def downgrade() -> None:
    for table in ("performer_faces", "likeness_checks", "generations"):
        op.drop_table(table)
