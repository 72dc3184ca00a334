"""Gavel's business rules: pure, typed, free of GraphQL, HTTP, NiceGUI and I/O."""
