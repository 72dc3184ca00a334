-- Ends an auction whose time is up; idempotent. KEYS: state, events, sealed.
-- Returns {pending, ends} when the end moved (soft close), {already} when done before,
-- or {ended, event} for the one call that ended it.
local k_state, k_events, k_sealed = KEYS[1], KEYS[2], KEYS[3]
local s = load_state(k_state)
if not s then return cjson.encode({missing = true}) end
if s.status == 'ENDED' or s.status == 'CANCELLED' then
  return cjson.encode({already = true, status = s.status, seq = num(s.seq)})
end
local now = now_ms()
if now < num(s.ends_ms) then
  return cjson.encode({pending = true, ends = s.ends_ms})
end
local sealed = {}
local flat = redis.call('HGETALL', k_sealed)
for i = 1, #flat, 2 do
  local amount, seq = string.match(flat[i + 1], '^(%d+):(%d+)$')
  sealed[#sealed + 1] = {bidder = flat[i], amount = amount, seq = tonumber(seq)}
end
s.status = 'ENDED'
s.ended_ms = int(now)
-- The terms that decide a sealed outcome travel with the end: a reader must not take
-- them from a row it read before the start (a SCHEDULED auction's terms may change).
local e = emit(k_events, s, 'ENDED', now,
               {reason = 'TIME', sealed = sealed, start = s.start, reserve = s.reserve})
redis.call('HSET', k_state, 'status', s.status, 'ended_ms', s.ended_ms, 'seq', s.seq)
return cjson.encode({ended = true, event = e})
