"""Thin resolvers: read the context, build a command, call one use case, map the result."""
