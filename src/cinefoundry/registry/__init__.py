"""Registry stage: trained models with their lineage (dataset version, grants, config, code, parent) and licence."""
