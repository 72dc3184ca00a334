"""Search index adapters: implementations of services/search/port.py's `SearchIndex`."""
