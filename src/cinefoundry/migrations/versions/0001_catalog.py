"""catalog: titles, media files, subtitles, performers, characters, cast credits

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "titles",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("eidr_id", sa.String(40), nullable=True),
        sa.Column("rights_holder", sa.String(300), nullable=True),
        sa.Column("director", sa.String(300), nullable=True),
        sa.Column("attribution", sa.Text(), nullable=True),
        sa.Column("live_action", sa.Boolean(), nullable=True),
        sa.Column("has_dialogue", sa.Boolean(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(2000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('feature', 'short', 'episode', 'trailer')", name=op.f("ck_titles_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_titles")),
        sa.UniqueConstraint("eidr_id", name=op.f("uq_titles_eidr_id")),
    )
    op.create_table(
        "performers",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performers")),
        sa.UniqueConstraint("name", name=op.f("uq_performers_name")),
    )
    op.create_table(
        "media_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("uri", sa.String(2000), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("container", sa.String(100), nullable=False),
        sa.Column("video_codec", sa.String(50), nullable=False),
        sa.Column("audio_codecs", sa.JSON(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("fps_rational", sa.String(30), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("probe", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"], name=op.f("fk_media_files_title_id_titles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_files")),
        sa.UniqueConstraint("title_id", "sha256", name=op.f("uq_media_files_title_id_sha256")),
    )
    op.create_index(op.f("ix_media_files_sha256"), "media_files", ["sha256"])
    op.create_index(op.f("ix_media_files_title_id"), "media_files", ["title_id"])
    op.create_table(
        "subtitles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("uri", sa.String(2000), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("cue_count", sa.Integer(), nullable=False),
        sa.Column("timeline", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"], name=op.f("fk_subtitles_title_id_titles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subtitles")),
        sa.UniqueConstraint("title_id", "sha256", name=op.f("uq_subtitles_title_id_sha256")),
    )
    op.create_index(op.f("ix_subtitles_title_id"), "subtitles", ["title_id"])
    op.create_table(
        "characters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("performer_id", sa.String(100), nullable=True),
        sa.Column("performance", sa.String(20), nullable=False),
        sa.CheckConstraint("performance IN ('on_screen', 'voice')", name=op.f("ck_characters_performance")),
        sa.ForeignKeyConstraint(
            ["performer_id"], ["performers.id"], name=op.f("fk_characters_performer_id_performers")
        ),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"], name=op.f("fk_characters_title_id_titles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_characters")),
        sa.UniqueConstraint("title_id", "name", "performer_id", name=op.f("uq_characters_title_id_name_performer_id")),
    )
    op.create_index(op.f("ix_characters_performer_id"), "characters", ["performer_id"])
    op.create_index(op.f("ix_characters_title_id"), "characters", ["title_id"])
    op.create_table(
        "cast_credits",
        sa.Column("title_id", sa.String(100), nullable=False),
        sa.Column("performer_id", sa.String(100), nullable=False),
        sa.Column("role", sa.String(300), nullable=True),
        sa.Column("billing", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["performer_id"], ["performers.id"], name=op.f("fk_cast_credits_performer_id_performers")
        ),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"], name=op.f("fk_cast_credits_title_id_titles")),
        sa.PrimaryKeyConstraint("title_id", "performer_id", name=op.f("pk_cast_credits")),
    )


def downgrade() -> None:
    for table in ("cast_credits", "characters", "subtitles", "media_files", "performers", "titles"):
        op.drop_table(table)
