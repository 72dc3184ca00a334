"""The GraphQL schema: strawberry types, inputs, payloads and the assembled root types."""
