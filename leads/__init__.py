"""The lead roster service: campaigns and their leads behind an HTTP API."""
