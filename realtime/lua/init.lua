-- Creates an auction's slot unless it exists. KEYS: state, events, sealed, idem.
-- ARGV: state as JSON object, sealed bids as JSON object {bidder: "amount:seq"},
-- remembered idempotent results as JSON object {"bidder:key": result}.
local k_state, k_events, k_sealed, k_idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', k_state) == 1 then return 0 end
local fields = cjson.decode(ARGV[1])
local flat = {}
for k, v in pairs(fields) do flat[#flat + 1] = k; flat[#flat + 1] = tostring(v) end
redis.call('HSET', k_state, unpack(flat))
local sealed = cjson.decode(ARGV[2])
for bidder, value in pairs(sealed) do redis.call('HSET', k_sealed, bidder, value) end
for field, value in pairs(cjson.decode(ARGV[3])) do redis.call('HSETNX', k_idem, field, value) end
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', k_events, 'persist',
                      fields.seq .. '-0', 'MKSTREAM')
if not ok and not string.find(tostring(err), 'BUSYGROUP') then error(err) end
return 1
