"""The `leads` command-line client: drives campaigns and rosters through the HTTP API only."""
