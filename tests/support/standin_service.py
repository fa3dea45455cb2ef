"""A stand-in for a service process under ``modelbus up``: answers /readyz on its port and
keeps a child process, as a service with workers would. ``python standin_service.py NAME``."""

from __future__ import annotations

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f'{{"status": "ready", "service": "{sys.argv[1]}"}}'.encode()
        self.send_response(200 if self.path in ("/readyz", "/healthz") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


if __name__ == "__main__":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"standin {sys.argv[1]} pid {os.getpid()} child {child.pid}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["MODELBUS_HTTP_PORT"])), Ready).serve_forever()
