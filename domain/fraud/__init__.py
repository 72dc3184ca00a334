"""Fraud rules (SPEC section 8, docs/fraud.md): pure functions from plain facts (bids,
auctions, accounts, sightings) to scored, explained `Signal`s, and how signals add up to
an account's score. No I/O: services/fraud/ loads the facts and acts on the scores."""
