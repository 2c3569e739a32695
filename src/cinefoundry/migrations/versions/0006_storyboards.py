"""storyboards: projects, shots with stable ids, takes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "storyboard_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("script_path", sa.String(2000), nullable=False),
        sa.Column("script_sha256", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("credit", sa.String(500), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("style", sa.Text(), nullable=False),
        sa.Column("scenes", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("folder", sa.String(2000), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _fk("storyboard_projects", "model_id", "models"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storyboard_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_storyboard_projects_name")),
    )
    for column in ("tenant", "model_id"):
        op.create_index(op.f(f"ix_storyboard_projects_{column}"), "storyboard_projects", [column])
    op.create_table(
        "storyboard_shots",
        sa.Column("id", sa.String(240), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("scene", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(500), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("approved_take", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("storyboard_shots", "project_id", "storyboard_projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storyboard_shots")),
        sa.UniqueConstraint("project_id", "scene", "number", name=op.f("uq_storyboard_shots_project_id_scene_number")),
    )
    op.create_index(op.f("ix_storyboard_shots_project_id"), "storyboard_shots", ["project_id"])
    op.create_table(
        "storyboard_takes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shot_id", sa.String(240), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("size", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("record_id", sa.String(40), nullable=True),
        sa.Column("clip", sa.String(2000), nullable=True),
        sa.Column("image", sa.String(2000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _fk("storyboard_takes", "record_id", "generations"),
        _fk("storyboard_takes", "shot_id", "storyboard_shots"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storyboard_takes")),
        sa.UniqueConstraint("shot_id", "number", name=op.f("uq_storyboard_takes_shot_id_number")),
    )
    op.create_index(op.f("ix_storyboard_takes_shot_id"), "storyboard_takes", ["shot_id"])


def downgrade() -> None:
    for table in ("storyboard_takes", "storyboard_shots", "storyboard_projects"):
        op.drop_table(table)
