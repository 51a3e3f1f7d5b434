"""The wire contract's vocabulary and JSON rules, shared by the service, its schemas, the `leads`
client, the bench and the tests; it imports nothing outside the standard library."""
