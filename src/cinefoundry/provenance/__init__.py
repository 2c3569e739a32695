"""Provenance: generation records, C2PA manifests, the invisible watermark and the likeness guard."""
