"""realtime: lands with a later issue (see README)."""
