"""Catalog stage: titles, media files, rights grants, performers, characters, consents and the rights gate."""
