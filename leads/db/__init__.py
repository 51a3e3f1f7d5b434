"""The database: connection pool and transactions, named queries, migrations, embedded server."""
