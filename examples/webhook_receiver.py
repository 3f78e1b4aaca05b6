#!/usr/bin/env python3
"""A receiver for leadflow's webhooks that checks every delivery's signature
with the Standard Webhooks reference library, as any receiver should.

    python3 -m venv venv && venv/bin/pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... venv/bin/python webhook_receiver.py 8000 events.jsonl

then create the webhook with `"url": "http://YOUR-HOST:8000/"` (and give
WEBHOOK_SECRET the `secret` its answer shows). Each delivery whose signature
verifies is answered 204 and printed (and appended to the file, as a JSON
line); one that does not is answered 400 (leadflow retries it) and never
trusted. Deliveries are at least once: a message can come twice (after a
timeout or a restart), always with the same `webhook-id`, so dedupe on it.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

verifier = Webhook(os.environ["WEBHOOK_SECRET"])
port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
log = sys.argv[2] if len(sys.argv) > 2 else None
seen = set()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            event = verifier.verify(body, dict(self.headers.items()))
        except WebhookVerificationError as e:
            self.record({"invalid": str(e), "webhookId": self.headers.get("webhook-id")})
            self.send_response(400)
            self.end_headers()
            return
        with lock:
            duplicate = self.headers["webhook-id"] in seen
            seen.add(self.headers["webhook-id"])
        self.record({"webhookId": self.headers["webhook-id"], "type": event["type"],
                     "sequence": event.get("sequence"), "duplicate": duplicate,
                     "data": event["data"]})
        self.send_response(204)
        self.end_headers()

    def record(self, line):
        text = json.dumps(line)
        print(text, flush=True)
        if log:
            with lock, open(log, "a") as f:
                f.write(text + "\n")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("", port), Handler).serve_forever()
