"""PostgreSQL adapters: table models, the engine, the unit of work."""
