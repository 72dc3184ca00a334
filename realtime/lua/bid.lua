-- Decides one bid (or buy-now) atomically. KEYS: state, events, idem, sealed, and
-- optionally the request key. ARGV: bidder, amount, max ('' = amount), idempotency key
-- ('' = none), kind (bid|buynow), the request key's life in ms (with a request key).
local k_state, k_events, k_idem, k_sealed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bidder, amount, ceiling, idem, kind = ARGV[1], tonumber(ARGV[2]), num(ARGV[3]), ARGV[4], ARGV[5]
ceiling = ceiling or amount

-- The request key: made by the server for each placeBid call, so the server's own retry
-- after a lost reply (realtime/slots.py) gets the first result instead of bidding twice.
-- Only acceptances are remembered: a rejection changed nothing, and deciding it again is
-- the same as a new attempt.
local k_request = KEYS[5]
if k_request then
  local first = redis.call('GET', k_request)
  if first then return first end
end

local s = load_state(k_state)
if not s then return cjson.encode({missing = true}) end

local idem_field = nil
if idem ~= '' then
  idem_field = bidder .. ':' .. idem
  local prior = redis.call('HGET', k_idem, idem_field)
  if prior then return prior end
end

local now = now_ms()
local result

local function reject(reason, minimum, detail)
  result = {ok = false, reason = reason, min = int(minimum), detail = detail, seq = num(s.seq)}
end

local function minimum_now()
  if s.type == 'ENGLISH' then return english_min(s) end
  if s.type == 'DUTCH' then return (dutch_price(s, now)) end
  return num(s.start)
end

local function finish_bid(events, leading, bid_seq)
  local flat = {}
  for k, v in pairs(s) do flat[#flat + 1] = k; flat[#flat + 1] = v end
  redis.call('HSET', k_state, unpack(flat))
  -- The terms too (they may have changed before the start): the caller shows them.
  result = {
    ok = true, seq = bid_seq, leading = leading, price = s.price, leader = s.leader,
    bids = num(s.bids), ends = s.ends_ms, status = s.status, at = int(now), events = events,
    start = s.start, reserve = s.reserve, buynow = s.buynow, starts = s.starts_ms,
  }
end

local function bid_event(extra)
  s.bids = int(num(s.bids) + 1)
  return emit(k_events, s, 'BID_ACCEPTED', now, extra)
end

if s.status ~= 'ACTIVE' then
  if s.status == 'ENDED' then reject('AUCTION_ENDED') else reject('AUCTION_NOT_ACTIVE') end
elseif now < num(s.starts_ms) then
  reject('AUCTION_NOT_ACTIVE')
elseif now >= num(s.ends_ms) then
  reject('AUCTION_ENDED')
elseif bidder == s.seller then
  reject('SELF_BIDDING', minimum_now())
elseif kind == 'buynow' then
  local buy = num(s.buynow)
  local p, r = num(s.price), num(s.reserve)
  if s.type ~= 'ENGLISH' or buy == nil then
    reject('AUCTION_NOT_ACTIVE', minimum_now(), 'NO_BUY_NOW')
  elseif p ~= nil and not (r ~= nil and p < r) then
    reject('AUCTION_NOT_ACTIVE', minimum_now(), 'BUY_NOW_CLOSED')
  else
    s.price, s.leader, s.ceiling = int(buy), bidder, int(buy)
    local e1 = bid_event({bidder = bidder, amount = int(buy), max = int(buy), leading = true,
                          buy_now = true, idem = idem})
    s.status, s.winner, s.final = 'ENDED', bidder, int(buy)
    s.ended_ms = int(now)
    local e2 = emit(k_events, s, 'ENDED', now, {reason = 'BUY_NOW'})
    finish_bid({e1, e2}, true, e1.seq)
  end
elseif s.type == 'ENGLISH' then
  -- The rules themselves are common.lua's english_decide (recompute.lua replays with it).
  -- Accepted: ok, leading, outbid; refused: ok, reason, minimum, detail.
  local ok, leading_or_reason, outbid_or_min, detail = english_decide(s, bidder, amount, ceiling)
  if not ok then
    reject(leading_or_reason, outbid_or_min, detail)
  else
    local leading, outbid = leading_or_reason, outbid_or_min
    local e1 = bid_event({bidder = bidder, amount = int(amount), max = int(ceiling),
                          leading = leading, outbid = outbid, idem = idem})
    local events = {e1}
    local window, ext = num(s.win_ms) or 0, num(s.ext_ms) or 0
    local ends = num(s.ends_ms)
    if ext > 0 and ends - now <= window then
      local new_end = math.max(ends, now + ext)
      local hard = num(s.hard_ms)
      if hard ~= nil and new_end > hard then new_end = hard end
      if new_end > ends then
        s.ends_ms = int(new_end)
        events[2] = emit(k_events, s, 'EXTENDED', now, nil)
      end
    end
    finish_bid(events, leading, e1.seq)
  end
elseif s.type == 'DUTCH' then
  local price = dutch_price(s, now)
  if amount < price then
    reject('BID_TOO_LOW', price)
  else
    s.price, s.leader, s.ceiling = int(price), bidder, int(price)
    local e1 = bid_event({bidder = bidder, amount = int(price), max = int(price), leading = true,
                          idem = idem})
    s.status, s.winner, s.final = 'ENDED', bidder, int(price)
    s.ended_ms = int(now)
    local e2 = emit(k_events, s, 'ENDED', now, {reason = 'ACCEPTED'})
    finish_bid({e1, e2}, true, e1.seq)
  end
else  -- sealed, first- or second-price
  local prior = redis.call('HGET', k_sealed, bidder)
  local prior_amount = prior and tonumber(string.match(prior, '^(%d+)')) or nil
  local ok, reason, minimum, detail = sealed_decide(s, prior_amount, amount)
  if not ok then
    reject(reason, minimum, detail)
  else
    local e1 = bid_event({bidder = bidder, amount = int(amount), max = int(amount),
                          leading = false, replaces = prior and int(prior_amount) or nil,
                          idem = idem})
    redis.call('HSET', k_sealed, bidder, int(amount) .. ':' .. int(e1.seq))
    finish_bid({e1}, false, e1.seq)
  end
end

local encoded = cjson.encode(result)
if idem_field then redis.call('HSET', k_idem, idem_field, encoded) end
if k_request and result.ok then redis.call('SET', k_request, encoded, 'PX', ARGV[6]) end
return encoded
