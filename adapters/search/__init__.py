"""Search index adapters (services/search/port.py): PostgreSQL, Meilisearch."""
