-- Stops an auction at once (admin or seller cancel). KEYS: state, events. ARGV: reason.
local k_state, k_events = KEYS[1], KEYS[2]
local s = load_state(k_state)
if not s then return cjson.encode({missing = true}) end
if s.status == 'ENDED' or s.status == 'CANCELLED' then
  return cjson.encode({already = true, status = s.status})
end
local now = now_ms()
s.status = 'CANCELLED'
local e = emit(k_events, s, 'CANCELLED', now, {reason = ARGV[1]})
redis.call('HSET', k_state, 'status', s.status, 'seq', s.seq)
return cjson.encode({cancelled = true, event = e})
