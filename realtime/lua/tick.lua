-- Publishes a Dutch auction's price step once per step. KEYS: state, events.
local k_state, k_events = KEYS[1], KEYS[2]
local s = load_state(k_state)
if not s or s.status ~= 'ACTIVE' or s.type ~= 'DUTCH' then return cjson.encode({}) end
local now = now_ms()
if now >= num(s.ends_ms) then return cjson.encode({}) end
local price, step = dutch_price(s, now)
if step <= (num(s.d_pub) or 0) or int(price) == s.d_price then return cjson.encode({}) end
s.d_pub, s.d_price = int(step), int(price)
local e = emit(k_events, s, 'PRICE_STEP', now, {dutch_price = int(price)})
redis.call('HSET', k_state, 'd_pub', s.d_pub, 'd_price', s.d_price, 'seq', s.seq)
return cjson.encode({event = e})
