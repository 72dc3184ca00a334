"""Use cases: each takes its dependencies explicitly, runs in one unit of work, commits once."""
