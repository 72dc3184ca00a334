"""realtime: everything live. Lua auction slots and their loader (slots.py, scripts.py,
lua/), slots made from the record (slot_seeding.py), the outbox persister (persister.py,
reading through outbox_stream.py, writing through event_records.py), the scheduler that
activates, closes and steps auctions (scheduler.py), the event bus and fan-out
(broadcast.py over pubsub_backend.py, events.py, feed.py, stream.py), account states
(account_states.py) and scrape-time lag (lag.py). It never imports services/."""
