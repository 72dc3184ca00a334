"""Search and discovery: the search index port, its documents, and the use cases on it."""
