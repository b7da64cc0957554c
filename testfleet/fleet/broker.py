"""The Celery broker on Redis: transport options both sides share, and the workers' leases.

Sender (the API's dispatcher) and workers must agree on how priorities map to
Redis lists, or a critical case sent by the API lands in a list no worker polls:
both take ``transport_options`` from here.

**Leases.** kombu's Redis transport keeps every message a worker took (reserved
or running) in the hash ``unacked``, with the time it was taken as its score in
the sorted set ``unacked_index``; every worker sweeps that index each
``restore_interval_s`` and puts back in the queue any message whose score is
older than the visibility timeout. Here the visibility timeout is the lease
(``worker.lease_s``), and the worker holding a message moves its score to "now"
every ``lease_s / 3`` (``renew_leases``) for as long as it holds it. So:

- a live worker's case is never handed out again, however long it runs: its
  score is never older than a third of a lease, and a sweep takes only scores
  older than a whole lease;
- a dead worker's case is back in the queue within ``lease_s +
  restore_interval_s`` of its last renewal;
- a renewal racing a sweep is harmless both ways: the sweep only takes a score
  that is already a lease old, which a renewing worker never leaves; and if a
  sweep did take one (a worker stalled for two thirds of a lease), the renewal
  finds the entry gone and reports it lost instead of re-creating it, and the
  run store's attempt count stops the older delivery at its next step.

Scores are wall-clock seconds (``time.time()``) as kombu writes them; hosts
must keep their clocks in sync (NTP), as kombu's own restore already assumes.

**Queue names.** kombu's default separator (``queue\\x06\\x163`` for priority 3):
the one Celery's own tools (``celery inspect``, Flower) use, so their remote
control and queue views work on the fleet's broker (with ``sep: ":"``, which
testfleet used before, their broadcasts crashed the workers' control handler).
``migrate_legacy_names`` moves what such a testfleet left queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import redis

from testfleet import keys
from testfleet.fleet import redisconn
from testfleet.settings import Settings

PRIORITY_STEPS: list[int] = list(range(10))
"""Ten priority lists per queue (0 taken first); see ``results.PRIORITY_LEVELS``."""

SEP = "\x06\x16"
"""kombu's separator in priority list names and binding entries (its default)."""
LEGACY_SEP = ":"
"""The separator testfleet used before it shared Celery's default (see ``migrate_legacy_names``)."""

RENEWALS_PER_LEASE = 3
"""A lease is renewed this many times per period: two missed renewals still keep it."""
RESTORE_MUTEX_EXPIRE_S = 10
"""How long one worker's sweep holds the sweep mutex at most. kombu's default (300 s)
would let a worker killed mid-sweep stop every sweep for five minutes; a shorter one is
safe because a sweep restores each message in a transaction watching ``unacked``, so
two overlapping sweeps never requeue one message twice."""


def queue_lists(queue: str) -> list[str]:
    """The Redis lists kombu keeps for ``queue``, priority 0 (taken first) to 9."""
    return [queue if step == 0 else f"{queue}{SEP}{step}" for step in PRIORITY_STEPS]


def renew_interval_s(settings: Settings) -> float:
    """How often a worker renews the leases it holds."""
    return settings.worker.lease_s / RENEWALS_PER_LEASE


def transport_options(settings: Settings, *, consumer: bool = False) -> dict[str, Any]:
    """kombu's Redis transport options; ``consumer`` adds what only workers use."""
    options: dict[str, Any] = {
        **redisconn.broker_options(settings.redis),
        # The lease: a taken message goes back to the queue this long after its
        # holder last renewed it (workers.lease renews every lease_s / 3).
        "visibility_timeout": settings.worker.lease_s,
        "unacked_key": keys.BROKER_UNACKED,
        "unacked_index_key": keys.BROKER_UNACKED_INDEX,
        "unacked_mutex_key": keys.BROKER_RESTORE_MUTEX,
        "unacked_mutex_expire": RESTORE_MUTEX_EXPIRE_S,
        # Priorities: a critical suite overtakes bulk runs already queued. Poll the
        # priority lists in order rather than round robin across queues.
        "queue_order_strategy": "priority",
        "priority_steps": PRIORITY_STEPS,
    }
    if consumer:
        # Sweep for messages whose lease ran out every restore_interval_s. kombu scans
        # on every `throttle`-th tick: throttle 1 makes the interval the whole story
        # (the default 10 would multiply it by ten).
        options["unacked_restore_interval"] = settings.worker.restore_interval_s
        options["unacked_restore_throttle"] = 1
    return options


# KEYS: 1 unacked index. ARGV: 1 now (s), 2.. delivery tags. Returns the tags not found.
_RENEW = """
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""


def renew_leases(client: redis.Redis, tags: Sequence[str], now_s: float) -> list[str]:
    """Move the lease of each held message (by delivery tag) to ``now_s``, in one round trip.

    Returns the tags whose message is no longer held in Redis (acknowledged meanwhile,
    or handed back by a sweep): never re-created, so a lost lease stays lost.
    """
    if not tags:
        return []
    lost = client.eval(_RENEW, 1, keys.BROKER_UNACKED_INDEX, repr(now_s), *tags)
    return [t.decode() if isinstance(t, bytes) else str(t) for t in cast(list[Any], lost)]


# KEYS: 1 unacked index. ARGV: tags. Returns the tags that were still held.
_EXPIRE = """
local expired = {}
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', 0, ARGV[i])
    expired[#expired + 1] = ARGV[i]
  end
end
return expired
"""


def expire_leases(client: redis.Redis, tags: Sequence[str]) -> list[str]:
    """End the lease of each message now (the next sweep, within ``restore_interval_s``,
    requeues it through kombu's own restore). For messages a worker let go of without
    settling them; returns the tags that were still held (the rest were settled)."""
    if not tags:
        return []
    expired = client.eval(_EXPIRE, 1, keys.BROKER_UNACKED_INDEX, *tags)
    return [t.decode() if isinstance(t, bytes) else str(t) for t in cast(list[Any], expired)]


# KEYS: 1.. old priority lists, then the new ones in the same order. Returns messages moved.
_MOVE_LISTS = """
local half = #KEYS / 2
local moved = 0
for i = 1, half do
  -- Oldest at the right end on both sides (LPUSH in, BRPOP out): appending the old
  -- list at the new one's right end keeps every old message ahead of newer ones.
  while redis.call('LMOVE', KEYS[i], KEYS[half + i], 'LEFT', 'RIGHT') do
    moved = moved + 1
  end
end
return moved
"""

# KEYS: 1 binding set. ARGV: 1 old sep, 2 new sep. Returns entries rewritten.
_REWRITE_BINDINGS = """
local n = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not string.find(member, ARGV[2], 1, true) then
    local parts = {}
    for part in string.gmatch(member .. ARGV[1], '(.-)' .. ARGV[1]) do
      parts[#parts + 1] = part
    end
    if #parts == 3 then
      redis.call('SREM', KEYS[1], member)
      redis.call('SADD', KEYS[1], table.concat(parts, ARGV[2]))
      n = n + 1
    end
  end
end
return n
"""


def migrate_legacy_names(client: redis.Redis, queue: str) -> int:
    """Move cases queued by a testfleet that used ``sep: ":"`` to kombu's default names.

    Its priority lists (``queue:1`` ... ``queue:9``) are appended, oldest first, to
    the lists of Celery's default names, and its binding entries (``rk::queue``) are
    rewritten. Both must happen before a worker consumes or the API publishes: kombu
    cannot read an old binding entry, and a message it then fails to route on restore
    would be dropped. Workers and the API call this as they start; it is safe from
    many processes at once (each step is atomic) and cheap when there is nothing to
    do. Returns how many messages it moved.
    """
    old = [f"{queue}{LEGACY_SEP}{step}" for step in PRIORITY_STEPS[1:]]
    new = queue_lists(queue)[1:]
    moved = 0
    if client.exists(*old):
        moved = int(cast(int, client.eval(_MOVE_LISTS, len(old) * 2, *old, *new)))
    for pattern in (keys.BROKER_BINDINGS_PATTERN, keys.BROKER_PERMANENT_BINDINGS_PATTERN):
        for key in client.scan_iter(match=pattern, count=500):
            client.eval(_REWRITE_BINDINGS, 1, key, LEGACY_SEP, SEP)
    return moved
