-- wrk script: POST GraphQL documents (bids are counted server-side, not here). Reads bench/results/wrk_setup.json written by
-- bench/http.py: {"mode": "typename" | "bid", "tokens": [...], "auctions": [...]}.
local json_path = os.getenv("GAVEL_WRK_SETUP")
local setup = io.open(json_path):read("*a")
local mode = setup:match('"mode":%s*"(%w+)"')
local tokens, auctions = {}, {}
for t in setup:match('"tokens":%s*%[(.-)%]'):gmatch('"([^"]+)"') do tokens[#tokens + 1] = t end
for a in setup:match('"auctions":%s*%[(.-)%]'):gmatch('"([^"]+)"') do auctions[#auctions + 1] = a end

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

local typename = '{"query":"{ __typename }"}'
local bid_doc = 'mutation($id: ID!, $a: Decimal!) { placeBid(auctionId: $id, amount: $a) '
  .. '{ __typename ... on BidRejected { reason } } }'

function request()
  if mode == "typename" then
    return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json"}, typename)
  end
  local token = tokens[math.random(#tokens)]
  local auction = auctions[math.random(#auctions)]
  local amount = string.format("%d.%02d", math.random(100, 50000), math.random(0, 99))
  local body = '{"query":"' .. bid_doc .. '","variables":{"id":"' .. auction .. '","a":"'
    .. amount .. '"}}'
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token}, body)
end

function done(summary, latency, requests)
  io.write(string.format("GAVEL {\"requests\": %d, \"seconds\": %.3f, \"non2xx\": %d, "
    .. "\"p50\": %.3f, \"p95\": %.3f, \"p99\": %.3f}\n", summary.requests,
    summary.duration / 1e6, summary.errors.status, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
