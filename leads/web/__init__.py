"""HTTP plumbing: the flask-smorest layer, auth, errors, idempotency, limits, logs, metrics."""
