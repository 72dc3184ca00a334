-- Stops an auction at once (admin or seller cancel). KEYS: state, events.
-- ARGV: reason, seller rule ('1': a seller's cancel, refused once a bid was accepted).
-- The bid count is checked here, in the same step that stops bidding: checked before the
-- script, a bid could be accepted in between (SPEC section 3: sellers cancel only before
-- the first bid; admins cancel any auction).
local k_state, k_events = KEYS[1], KEYS[2]
local s = load_state(k_state)
if not s then return cjson.encode({missing = true}) end
if s.status == 'ENDED' or s.status == 'CANCELLED' then
  return cjson.encode({already = true, status = s.status, bids = num(s.bids) or 0})
end
if ARGV[2] == '1' and (num(s.bids) or 0) > 0 then
  return cjson.encode({refused = true, status = s.status, bids = num(s.bids)})
end
local now = now_ms()
s.status = 'CANCELLED'
local e = emit(k_events, s, 'CANCELLED', now, {reason = ARGV[1]})
redis.call('HSET', k_state, 'status', s.status, 'seq', s.seq)
return cjson.encode({cancelled = true, event = e, bids = num(s.bids) or 0})
