"""Demo data for Gavel: `python -m seeds` fills the database named by DATABASE_URL."""

from __future__ import annotations

from seeds.loader import load

__all__ = ["load"]
