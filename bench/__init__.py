"""`make bench`: the service against the database itself, at 0, 100,000 and 1,000,000 leads."""
