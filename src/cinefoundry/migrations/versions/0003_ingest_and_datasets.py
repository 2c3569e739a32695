"""ingest and datasets: clips, completion markers, dataset versions; film offset of media files

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    with op.batch_alter_table("media_files") as batch:
        batch.add_column(sa.Column("film_offset_s", sa.Float(), nullable=True))
    op.create_table(
        "clips",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("processing_hash", sa.String(16), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("video_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("clips", "grant_id", "rights_grants"),
        _fk("clips", "media_file_id", "media_files"),
        _fk("clips", "title_id", "titles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clips")),
    )
    for column in ("grant_id", "media_file_id", "title_id"):
        op.create_index(op.f(f"ix_clips_{column}"), "clips", [column])
    op.create_table(
        "ingest_markers",
        sa.Column("media_sha256", sa.String(64), nullable=False),
        sa.Column("processing_hash", sa.String(16), nullable=False),
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("clips", sa.Integer(), nullable=False),
        sa.Column("footage_s", sa.Float(), nullable=False),
        sa.Column("cpu_s", sa.Float(), nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        _fk("ingest_markers", "media_file_id", "media_files"),
        sa.PrimaryKeyConstraint("media_sha256", "processing_hash", "media_file_id", name=op.f("pk_ingest_markers")),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("catalog_version", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("clips", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("built_on", sa.Date(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _fk("dataset_versions", "parent_id", "dataset_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_versions")),
        sa.UniqueConstraint("name", "number", name=op.f("uq_dataset_versions_name_number")),
    )
    op.create_index(op.f("ix_dataset_versions_content_hash"), "dataset_versions", ["content_hash"])
    op.create_index(op.f("ix_dataset_versions_name"), "dataset_versions", ["name"])
    op.create_table(
        "dataset_titles",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("licence", sa.String(300), nullable=False),
        sa.Column("attribution", sa.Text(), nullable=True),
        sa.Column("clips", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        _fk("dataset_titles", "grant_id", "rights_grants"),
        _fk("dataset_titles", "title_id", "titles"),
        _fk("dataset_titles", "version_id", "dataset_versions"),
        sa.PrimaryKeyConstraint("version_id", "title_id", name=op.f("pk_dataset_titles")),
    )
    op.create_index(op.f("ix_dataset_titles_grant_id"), "dataset_titles", ["grant_id"])
    op.create_table(
        "dataset_exclusions",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk("dataset_exclusions", "title_id", "titles"),
        _fk("dataset_exclusions", "version_id", "dataset_versions"),
        sa.PrimaryKeyConstraint("version_id", "title_id", name=op.f("pk_dataset_exclusions")),
    )


def downgrade() -> None:
    for table in ("dataset_exclusions", "dataset_titles", "dataset_versions", "ingest_markers", "clips"):
        op.drop_table(table)
    with op.batch_alter_table("media_files") as batch:
        batch.drop_column("film_offset_s")
