"""realtime: everything live. Lua auction slots and their loader (slots.py, scripts.py,
lua/), the outbox persister (persister.py), the scheduler that activates, closes and
steps auctions (scheduler.py), the event bus and fan-out (broadcast.py, events.py,
feed.py, stream.py), account states (account_states.py) and scrape-time lag (lag.py)."""
