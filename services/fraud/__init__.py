"""Fraud scoring's I/O (docs/fraud.md): the scorer that reads newly persisted bids and
writes flags and holds (`scorer.py`), the facts it loads (`facts.py`), and the IP and
device sightings recorded at register and login (`sightings.py`). The rules themselves
are pure, in domain/fraud/."""
