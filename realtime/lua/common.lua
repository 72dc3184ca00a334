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

-- The bidding rules both bid.lua (a new bid) and recompute.lua (a replay after a void)
-- apply, so a recomputed auction is decided by the very same code (SPEC section 4).
-- Each returns true plus its facts when the bid is accepted, or false, reason, minimum,
-- detail when the rules refuse it; only an accepted bid changes `s`.

local function english_min(s)
  local p = num(s.price)
  if p == nil then return num(s.start) end
  return p + increment(s, p)
end

-- English proxy bidding: updates s.price, s.leader, s.ceiling; returns true, leading,
-- outbid (who just lost the lead: the previous leader, or this bidder at once, C <= M).
local function english_decide(s, bidder, amount, ceiling)
  -- A missing ceiling (a record without proxy data) means the price is the ceiling.
  local p, m, leader = num(s.price), num(s.ceiling) or num(s.price), s.leader
  local leading
  if p ~= nil and bidder == leader then
    if ceiling <= m then return false, 'BID_TOO_LOW', m + 1, 'CEILING_NOT_RAISED' end
    s.ceiling = int(ceiling)
    leading = true
  else
    local minimum = english_min(s)
    if amount < minimum then return false, 'BID_TOO_LOW', minimum end
    if p == nil then
      s.price, s.leader, s.ceiling = int(amount), bidder, int(ceiling)
      leading = true
    elseif ceiling > m then
      local np = math.min(ceiling, m + increment(s, m))
      if amount > np then np = amount end
      s.price, s.leader, s.ceiling = int(np), bidder, int(ceiling)
      leading = true
    else
      s.price = int(math.min(m, ceiling + increment(s, ceiling)))
      leading = false
    end
  end
  local r = num(s.reserve)
  if r ~= nil and num(s.ceiling) >= r and num(s.price) < r then s.price = int(r) end
  local outbid = nil
  if not leading then
    outbid = bidder
  elseif leader ~= nil and leader ~= '' and leader ~= bidder then
    outbid = leader
  end
  return true, leading, outbid
end

-- A sealed bid: at least the starting price, and above the bidder's own live bid
-- (`prior_amount`, nil for none), which it replaces.
local function sealed_decide(s, prior_amount, amount)
  local start = num(s.start)
  if amount < start then return false, 'BID_TOO_LOW', start end
  if prior_amount ~= nil and amount <= prior_amount then
    return false, 'BID_TOO_LOW', prior_amount + 1, 'NOT_ABOVE_OWN_BID'
  end
  return true
end
