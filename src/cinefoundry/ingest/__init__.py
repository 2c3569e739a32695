"""Ingest stage: from licensed media to curated, captioned training clips with lineage (one decode per file)."""
