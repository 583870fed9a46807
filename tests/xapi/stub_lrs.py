"""A scripted endpoint for the answers a real LRS cannot be made to give on demand (429, 503, Retry-After):
a real HTTP server on 127.0.0.1 that records each request and answers with the next scripted status."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubLrs:
    def __init__(self, answers=()):
        self.answers = list(answers)  # (status, headers) pairs; 200 with the posted ids when they run out
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                status, headers = stub.answers.pop(0) if stub.answers else (200, {})
                payload = b""
                if status == 200:
                    payload = json.dumps([s["id"] for s in json.loads(body)]).encode()
                elif status >= 400:
                    payload = b'{"detail": "scripted failure"}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/xAPI/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
