"""Token buckets in Redis: several buckets charged all-or-nothing by one Lua script.

Each bucket is a GCRA ("generic cell rate algorithm", a token bucket that stores one
number: the theoretical arrival time, TAT). A `Rate` of N per S seconds lets a burst of
N through, then refills one token every S/N seconds. One script call charges every
bucket of a check or none: if any bucket would overflow, nothing is written and the
answer is the wait (ms) until all of them would accept. Time is the server's (`TIME`),
so every app process agrees. Keys expire when their bucket is full again.

Why not the `limits` library: its storages build their own client from a URI (they
cannot share the app's client, and its cluster storage is another `RedisCluster`), and
each `hit` charges one key in one script: three limits on a bid would cost three round
trips, and a refusal by the third would leave the first two charged.

The scripts do not replicate their writes (`REPL_NONE`): buckets are throwaway state, kept
out of the append-only file and the replicas, so a restart or a failover forgets them and
the bid path's durable writes are not joined by three more per bid.

All keys carry one hash tag, so on a Redis Cluster every check is still one script on
one slot (the price: all buckets live on one node; they are small and short-lived).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime.batcher import ScriptBatcher

KEY_PREFIX = "{gavel:rl}:"

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` events per `seconds`: a burst of `count`, refilled evenly over `seconds`."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'N/S' (e.g. '10/60': ten per minute). Raises ValueError otherwise."""
        match = _RATE.match(text)
        if match is None or int(match[1]) < 1 or float(match[2]) <= 0:
            raise ValueError(f"a rate is 'COUNT/SECONDS' with both above zero, not {text!r}")
        return cls(int(match[1]), float(match[2]))

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}"


@dataclass(frozen=True, slots=True)
class Charge:
    """Take `cost` tokens from the bucket `key` (a name below KEY_PREFIX) of `rate`."""

    key: str
    rate: Rate
    cost: int = 1


@dataclass(frozen=True, slots=True)
class ChargePlan:
    args: list[str]


# ARGV[1] = "1": charge even past the limit (a penalty); then per key: interval (ms per
# token), period (ms, the burst's length) and cost. Returns 0 (charged) or the wait in ms.
_CHARGE = """
redis.set_repl(redis.REPL_NONE)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local force = ARGV[1] == '1'
local wait = 0
local next_tat = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 3 - 1])
  local period = tonumber(ARGV[i * 3])
  local cost = tonumber(ARGV[i * 3 + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local after = tat + interval * cost
  local over = after - now - period
  if over > wait then wait = over end
  next_tat[i] = after
end
if wait > 0 and not force then
  return math.ceil(wait)
end
for i = 1, #KEYS do
  local ttl = math.ceil(next_tat[i] - now)
  if ttl > 0 then
    redis.call('SET', KEYS[i], string.format('%.3f', next_tat[i]), 'PX', ttl)
  end
end
return 0
"""

# A login attempt, checked and charged before the password is verified, as though it
# will fail. KEYS[1] = the streak of consecutive failures (and attempts still running),
# forgotten after ARGV[2] ms; KEYS[2] = the backoff bucket, KEYS[3..] = other buckets.
# ARGV[1] = the largest penalty; then per key from KEYS[2] on: interval, period, cost.
# Admission is all-or-nothing on each bucket's `cost`. Once admitted, the backoff bucket
# is also charged the penalty the attempt would owe if it failed, min(2^streak,
# ARGV[1]) tokens, past its limit: so attempts running at once pay their backoff one
# after another, as sequential ones do. The debt can never exceed one penalty plus one
# token (admission needs room for one token), which bounds the wait. Returns {0,
# penalty, 0} (charged) or {wait ms, 0, i}: i - 1 indexes the bucket that made the
# longest wait among KEYS[2..] (so the refusal can say which limit).
_ATTEMPT = """
redis.set_repl(redis.REPL_NONE)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local streak = tonumber(redis.call('GET', KEYS[1]) or '0')
local penalty = math.min(2 ^ streak, tonumber(ARGV[1]))
local wait = 0
local by = 0
local next_tat = {}
for i = 2, #KEYS do
  local interval = tonumber(ARGV[i * 3 - 3])
  local period = tonumber(ARGV[i * 3 - 2])
  local cost = tonumber(ARGV[i * 3 - 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local after = tat + interval * cost
  local over = after - now - period
  if over > wait then
    wait = over
    by = i
  end
  if i == 2 then after = after + interval * penalty end
  next_tat[i] = after
end
if wait > 0 then
  return {math.ceil(wait), 0, by}
end
for i = 2, #KEYS do
  local ttl = math.ceil(next_tat[i] - now)
  if ttl > 0 then
    redis.call('SET', KEYS[i], string.format('%.3f', next_tat[i]), 'PX', ttl)
  end
end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {0, penalty, 0}
"""

# An attempt that did not fail: KEYS[2] (the backoff bucket, ARGV[1] ms per token) gets
# back the ARGV[2] tokens of penalty taken in advance; ARGV[3] = "reset" (a success):
# the streak KEYS[1] is forgotten and the backoff cleared, i.e. the penalties its
# failures paid (the k-th failure in a row paid min(2^(k-1), ARGV[4])) are given back
# too; each failure's own token stays spent, so the pair's attempt budget stays honest.
# Else the streak only loses this attempt.
_SETTLE = """
redis.set_repl(redis.REPL_NONE)
local refund = tonumber(ARGV[2])
local streak = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[3] == 'reset' then
  -- the streak counts this attempt too: its failures are the others
  for k = 0, streak - 2 do refund = refund + math.min(2 ^ k, tonumber(ARGV[4])) end
  redis.call('DEL', KEYS[1])
elseif streak > 0 then
  redis.call('DECR', KEYS[1])
end
local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
if tat == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local after = tat - tonumber(ARGV[1]) * refund
if after - now < 1 then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], string.format('%.3f', after), 'PX', math.ceil(after - now))
end
return 0
"""


_RETRIABLE = (RedisConnectionError, RedisTimeoutError)
_RETRY_DELAYS = (0.0, 0.05, 0.2)  # then the last try: its error is UNAVAILABLE


def _args(charges: Sequence[Charge]) -> list[str]:
    out: list[str] = []
    for charge in charges:
        period = charge.rate.seconds * 1000
        out += [repr(period / charge.rate.count), repr(period), str(charge.cost)]
    return out


class RedisBuckets:
    """The Redis adapter of `services.limits.Buckets`."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._charge_script = redis.register_script(_CHARGE)
        self._attempt_script = redis.register_script(_ATTEMPT)
        self._settle_script = redis.register_script(_SETTLE)
        # Concurrent checks share one pipeline write, as the bid scripts do (cluster
        # pipelines refuse EVALSHA: there each check goes alone).
        self._charge: Any = (
            (lambda keys, args: self._charge_script(keys=keys, args=args))
            if isinstance(redis, RedisCluster)
            else ScriptBatcher(redis, self._charge_script)
        )

    async def _charge_retrying(self, keys: list[str], args: list[str]) -> Any:
        """One charge, sent again after a connection failure (a Redis restart or a killed
        connection leaves dead pooled connections; the batcher drops them on the first
        error). A charge whose reply was lost may so count twice: a rare, conservative
        error, unlike refusing a bid because a pooled connection had died."""
        for delay in _RETRY_DELAYS:
            try:
                return await self._charge(keys, args)
            except _RETRIABLE:
                await asyncio.sleep(delay)
        return await self._charge(keys, args)

    async def charge(self, charges: Sequence[Charge]) -> float:
        """Charge every bucket or none; 0.0 if charged, else the seconds to wait."""
        waited = await self._charge_retrying(
            [KEY_PREFIX + c.key for c in charges], ["0", *_args(charges)]
        )
        return int(waited) / 1000

    def plan(self, rates: Sequence[Rate]) -> ChargePlan:
        """The script's arguments for one token of each of `rates`, made once: the bid
        path charges the same three rates every time."""
        return ChargePlan(["0", *_args([Charge("", rate) for rate in rates])])

    async def charge_planned(self, keys: Sequence[str], plan: ChargePlan) -> float:
        """`charge` of one token from each of `keys`, in the order of the plan's rates."""
        waited = await self._charge_retrying([KEY_PREFIX + key for key in keys], plan.args)
        return int(waited) / 1000

    async def attempt(
        self, streak_key: str, backoff: Charge, others: Sequence[Charge], *, max_penalty: int
    ) -> tuple[float, int, int]:
        """One attempt that may fail and then backs off (see _ATTEMPT): charges `backoff`
        and `others` all-or-nothing, plus, on `backoff`, the penalty of a failure in
        advance. Returns (0.0, penalty tokens taken, -1) or (seconds to wait, 0, i), `i`
        indexing `[backoff, *others]`: the limit that made the wait. The streak is
        forgotten after the backoff rate's period times `max_penalty`."""
        charges = [backoff, *others]
        period_ms = backoff.rate.seconds * 1000
        wait, penalty, by = await self._attempt_script(
            keys=[KEY_PREFIX + streak_key, *(KEY_PREFIX + c.key for c in charges)],
            args=[str(max_penalty), str(math.ceil(period_ms * max_penalty)), *_args(charges)],
        )
        return int(wait) / 1000, int(penalty), int(by) - 2 if int(wait) > 0 else -1

    async def settle(
        self, streak_key: str, backoff: Charge, penalty: int, *, reset: bool, max_penalty: int
    ) -> None:
        """An attempt that did not fail: gives back its `penalty` tokens; `reset` (a
        success) forgets the streak and gives back the penalties of its failures (each
        at most `max_penalty`: the backoff is cleared, the failures' own tokens stay
        spent), else the attempt leaves the streak as it found it."""
        await self._settle_script(
            keys=[KEY_PREFIX + streak_key, KEY_PREFIX + backoff.key],
            args=[
                repr(backoff.rate.seconds * 1000 / backoff.rate.count),
                str(penalty),
                "reset" if reset else "keep",
                str(max_penalty),
            ],
        )
