"""The top of the spine: task files into cases, one case into one record, and the backfills that
rewrite records."""
