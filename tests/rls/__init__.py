"""Row-level security, catalog and request-identity tests, run against the embedded cluster."""
