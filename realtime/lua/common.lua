-- Shared helpers, prepended to every Gavel script (see realtime/scripts.py).
-- Money is integer minor units; Lua numbers are doubles, exact below 2^53, and amounts
-- are capped far below that. Numbers leave as strings: cjson would print 1e+13.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  if n == nil then return nil end
  return string.format('%.0f', n)
end

local function num(v)
  if v == nil or v == false or v == '' then return nil end
  return tonumber(v)
end

local function load_state(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local s = {}
  for i = 1, #flat, 2 do s[flat[i]] = flat[i + 1] end
  return s
end

-- eBay's increment table, stored in the slot as "lower:step,lower:step,..." (descending).
local function increment(s, price)
  for pair in string.gmatch(s.inc, '[^,]+') do
    local lower, step = string.match(pair, '(%d+):(%d+)')
    if price >= tonumber(lower) then return tonumber(step) end
  end
  return 1
end

local function dutch_price(s, now)
  local start, step, every = num(s.start), num(s.d_step), num(s.d_step_ms)
  local floor_price = num(s.d_floor) or 0
  local elapsed = math.max(0, now - num(s.active_ms))
  local p = start - math.floor(elapsed / every) * step
  if p < floor_price then p = floor_price end
  return p, math.floor(elapsed / every)
end

-- Appends one numbered event to the auction's stream (outbox and replay log).
local function emit(keys_events, s, kind, now, extra)
  local seq = num(s.seq) + 1
  s.seq = int(seq)
  local e = {
    seq = seq, kind = kind, at = int(now), price = s.price, bids = num(s.bids),
    ends = s.ends_ms, leader = s.leader, status = s.status,
  }
  if extra then for k, v in pairs(extra) do e[k] = v end end
  local body = cjson.encode(e)
  redis.call('XADD', keys_events, int(seq) .. '-0', 'e', body)
  return e
end
