"""A small JSON control plane on the fake's HTTPS port, for demos driven from a shell (`curl --cacert ...`).

Loopback only, like everything else in the fake. It never returns tokens or the client secret.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1.state import FakeState, Recorded

CONTROL_PREFIX = "/_fake"


def summarize(recorded: Recorded) -> dict[str, Any]:
    finishes: dict[str, list[dict[str, Any]]] = {}
    for task_id, requests in recorded.finish_tasks.items():
        finishes[task_id] = [
            {
                "final_state": request.WhichOneof("final_state"),
                "code": request.status.code,
                "message": request.status.message,
                "non_retryable": request.error.non_retryable,
                "response_type": request.success.response.type_url,
            }
            for request in requests
        ]
    return {
        "token_requests": [{"ok": record.ok, "reason": record.reason} for record in recorded.token_requests],
        "tokens_issued": recorded.tokens_issued,
        "hellos": [{"host_id": hello.host_id, "task_id": hello.task_id} for hello in recorded.hellos],
        "get_task_count": recorded.get_task_count,
        "heartbeats": [beat.task_id for beat in recorded.heartbeats],
        "finish_tasks": finishes,
        "uploads": [
            {"task_id": up.task_id, "size": up.size, "chunks": len(up.chunk_sizes), "ok": up.ok, "error": up.error}
            for up in recorded.uploads
        ],
        "calls": [{"method": call.method, "code": call.code} for call in recorded.calls],
    }


def add_control_routes(app: web.Application, state: FakeState) -> None:
    async def get_state(_: web.Request) -> web.Response:
        return web.json_response(summarize(state.snapshot()))

    async def post_task(request: web.Request) -> web.Response:
        body = await request.json()
        kind = str(body.get("kind", ""))
        task = baton_pb2.Task(id=str(body.get("id") or new_ksuid()))
        if kind not in {field.name for field in baton_pb2.Task.DESCRIPTOR.oneofs_by_name["task_type"].fields}:
            return web.json_response({"error": f"unknown task kind {kind!r}"}, status=400)
        getattr(task, kind).SetInParent()
        state.enqueue(task)
        return web.json_response({"id": task.id, "kind": kind})

    async def post_outage(request: web.Request) -> web.Response:
        body = await request.json()
        mode = body.get("mode")
        if mode is None:
            state.end_outage()
        elif mode in ("refuse", "unavailable"):
            seconds = body.get("seconds")
            state.start_outage(mode, float(seconds) if seconds is not None else None)
        else:
            return web.json_response({"error": "mode must be refuse, unavailable or null"}, status=400)
        return web.json_response({"mode": mode})

    async def post_cancel(request: web.Request) -> web.Response:
        state.cancel_task(request.match_info["task_id"])
        return web.json_response({"cancelled": request.match_info["task_id"]})

    app.router.add_get(f"{CONTROL_PREFIX}/state", get_state)
    app.router.add_post(f"{CONTROL_PREFIX}/tasks", post_task)
    app.router.add_post(f"{CONTROL_PREFIX}/outage", post_outage)
    app.router.add_post(f"{CONTROL_PREFIX}/tasks/{{task_id}}/cancel", post_cancel)
