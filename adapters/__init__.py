"""Adapters for the ports the services use: hashing, tokens, mail, file storage."""
