"""Take a title's clips out of the clip catalog (licence ended, takedown): new datasets cannot use them.

The clip catalog deletes the rows in a new Lance version; dataset versions pinned to earlier catalog
versions stay reproducible. Clip rows and completion markers go too, so ingesting the title again (if its
rights come back) processes it afresh.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import MediaFile, Title
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.models import Clip, IngestMarker


def purge_title(s: Session, catalog: ClipCatalog, title: Title) -> dict[str, int]:
    """Delete a title's clips from the clip catalog and the database; returns what was removed."""
    clips = catalog.delete_title(title.id)
    media = select(MediaFile.id).where(MediaFile.title_id == title.id)
    rows = s.execute(delete(Clip).where(Clip.title_id == title.id)).rowcount
    markers = s.execute(delete(IngestMarker).where(IngestMarker.media_file_id.in_(media))).rowcount
    return {"catalog_clips": clips, "clip_rows": rows, "markers": markers, "catalog_version": catalog.version}
