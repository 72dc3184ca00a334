-- Recomputes an ACTIVE auction after bids were voided or retracted: the state is reset
-- and the remaining bids are replayed, in sequence order, through the same rules that
-- decided them (common.lua's english_decide / sealed_decide). KEYS: state, events,
-- sealed. ARGV: the sequence the caller read the bids at, the reason (VOIDED or
-- RETRACTED), JSON {voided = [seq, ...], bids = [[seq, bidder, amount, max], ...] (the
-- remaining bids, ascending), skip = [seq, ...] (remaining bids not to replay: their
-- account is banned or on fraud hold; recorded as ignored)}, the acting user's id and
-- the admin's note ('' for none), which the event carries (privately) to the audit log
-- the persister writes with it. The end time stays as it is: replay neither extends nor
-- un-extends. A remaining bid the rules now refuse stays recorded but does not count
-- (`ignored`). Appends one BIDS_VOIDED event. Answers {missing}, {over, status},
-- {refused, reason} (a Dutch auction), {conflict, seq} (a bid arrived since the caller
-- read the bids: read again and retry), or {ok, event}.
local k_state, k_events, k_sealed = KEYS[1], KEYS[2], KEYS[3]
local expected, reason, input = tonumber(ARGV[1]), ARGV[2], cjson.decode(ARGV[3])
local actor, note = ARGV[4], ARGV[5]

local s = load_state(k_state)
if not s then return cjson.encode({missing = true}) end
local now = now_ms()
if s.status ~= 'ACTIVE' then
  return cjson.encode({over = true, status = s.status})
end
if now >= num(s.ends_ms) then return cjson.encode({over = true, status = 'ENDED'}) end
if s.type == 'DUTCH' then return cjson.encode({refused = true, reason = 'AUCTION_NOT_ACTIVE'}) end
if num(s.seq) ~= expected then return cjson.encode({conflict = true, seq = num(s.seq)}) end

local before = {price = s.price, leader = s.leader, bids = num(s.bids)}
s.price, s.leader, s.ceiling = '', '', ''
local count = 0
local ignored = {}
local sealed = {}  -- bidder -> {amount, seq}: each bidder's latest accepted bid
local skip = {}
for _, seq in ipairs(input.skip or {}) do skip[tonumber(seq)] = true end
for _, b in ipairs(input.bids) do
  local seq, bidder, amount, ceiling = tonumber(b[1]), b[2], tonumber(b[3]), tonumber(b[4])
  local ok
  if skip[seq] then
    ok = false
  elseif s.type == 'ENGLISH' then
    ok = english_decide(s, bidder, amount, ceiling or amount)
  else
    local prior = sealed[bidder]
    ok = sealed_decide(s, prior and prior[1] or nil, amount)
    if ok then sealed[bidder] = {amount, seq} end
  end
  if ok then count = count + 1 else ignored[#ignored + 1] = seq end
end
s.bids = int(count)

if s.type ~= 'ENGLISH' then
  redis.call('DEL', k_sealed)
  for bidder, bid in pairs(sealed) do
    redis.call('HSET', k_sealed, bidder, int(bid[1]) .. ':' .. int(bid[2]))
  end
end
local e = emit(k_events, s, 'BIDS_VOIDED', now, {
  voided = input.voided, ignored = ignored, reason = reason, before = before,
  actor = actor, note = note,
})
redis.call('HSET', k_state, 'price', s.price, 'leader', s.leader, 'ceiling', s.ceiling,
           'bids', s.bids, 'seq', s.seq)
return cjson.encode({ok = true, event = e})
