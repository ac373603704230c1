"""The store: every table, the engine, migrations and the queries the service makes."""
