"""The baseline of ``bench_gateway``: a naive relay, one coroutine and one XREAD per client.

``python -m bench.naive_relay PORT REDIS_URL`` serves ``/naive?run=ID`` (that
run's events, one message each) and ``/naive?batch=1`` (every event, one
message per XREAD reply). Each client's coroutine reads ``tf:events`` itself,
decodes every entry and filters it: what a relay without a shared reader does.
"""

from __future__ import annotations

import sys
from typing import Any

import redis.asyncio as aredis
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from testfleet import keys
from testfleet.stream import Entry


def make_app(redis_url: str) -> Starlette:
    # One connection per client is the point of this baseline.
    client = aredis.Redis.from_url(redis_url, decode_responses=True, max_connections=10_000)

    async def naive(websocket: WebSocket) -> None:
        await websocket.accept()
        run_id = websocket.query_params.get("run")
        batched = websocket.query_params.get("batch") == "1"
        newest: Any = await client.xrevrange(keys.EVENTS_STREAM, count=1)
        cursor = str(newest[0][0]) if newest else "0-0"
        await websocket.send_text('{"type":"ready"}')
        try:
            while True:
                reply: Any = await client.xread({keys.EVENTS_STREAM: cursor}, block=1000)
                if not reply:
                    continue
                wires = []
                for entry_id, fields in reply[0][1]:
                    cursor = entry_id
                    entry = Entry.of(entry_id, fields)
                    if run_id is None or entry.run_id == run_id:
                        wires.append(entry.wire)
                if not wires:
                    continue
                if batched:
                    body = ",".join(wires)
                    await websocket.send_text(
                        f'{{"type":"batch","count":{len(wires)},"events":[{body}]}}'
                    )
                else:
                    for wire in wires:
                        await websocket.send_text(wire)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client left (seen at the next send)

    return Starlette(routes=[WebSocketRoute("/naive", naive)])


def main(argv: list[str]) -> None:
    port, redis_url = int(argv[0]), argv[1]
    uvicorn.run(
        make_app(redis_url),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
