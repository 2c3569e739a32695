"""Dataset stage: immutable, content-hashed dataset versions frozen from the clip catalog, with rights audit."""
