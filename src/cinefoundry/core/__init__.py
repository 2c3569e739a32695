"""Infrastructure every stage shares: settings, metadata database, object store, audit log, workspace."""
