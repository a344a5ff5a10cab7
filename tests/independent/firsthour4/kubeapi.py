"""A Kubernetes API server on 127.0.0.1 that holds Secrets and ConfigMaps and answers what Helm's `lookup` asks: the
discovery of `v1` and a GET of one of them (404 as a Status when it has none). Enough for `helm upgrade`'s render against a
cluster (helm_python's `Config.render`, the real Helm engine), without a cluster."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DISCOVERY_V1 = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret", "verbs": ["get"]},
        {"name": "configmaps", "singularName": "configmap", "namespaced": True, "kind": "ConfigMap", "verbs": ["get"]},
    ],
}


class KubeApi:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.paths: list[str] = []
        self.url = ""

    def put_secret(self, namespace: str, name: str, data: dict[str, str], annotations: dict[str, str]) -> None:
        self.secrets[(namespace, name)] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
            "type": "Opaque",
            "data": data,
        }

    def put_config_map(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.config_maps[(namespace, name)] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": data,
        }

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        self.paths.append(path)
        parts = path.split("?", 1)[0].strip("/").split("/")
        if parts == ["api", "v1"]:
            return 200, DISCOVERY_V1
        if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] in ("secrets", "configmaps"):
            found = (self.secrets if parts[4] == "secrets" else self.config_maps).get((parts[3], parts[5]))
            if found is not None:
                return 200, found
        not_found = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
        return 404, not_found


@contextmanager
def running() -> Iterator[KubeApi]:
    api = KubeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = api.answer(self.path)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
