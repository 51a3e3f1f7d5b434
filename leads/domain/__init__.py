"""The roster's rules and operations: identity, dedup, campaigns, cursors, ids."""
