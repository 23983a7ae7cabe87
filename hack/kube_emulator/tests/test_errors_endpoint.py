"""POST /_emulator/errors: for N seconds every API request is answered 429
(plain text, Retry-After) or 500 (an InternalError Status), as a real
server overloaded or failing answers; control requests are not."""

import argparse
import http.client
import json
import threading
import time
import unittest

from kube_emulator.handler import Handler
from kube_emulator.server import Emulator, Server


def request(port, method, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


class ErrorsEndpointTest(unittest.TestCase):
    def setUp(self):
        args = argparse.Namespace(history=100, token=None, client_ca=None, bookmark_interval=1.0,
                                  watch_timeout=60.0, request_log=100)
        self.emulator = Emulator(args)
        self.server = Server(("127.0.0.1", 0), self.emulator, None, Handler)
        self.port = self.server.server_address[1]
        self.emulator.address = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_429_is_plain_text_with_retry_after_until_the_time_is_up(self):
        code, _, _ = request(self.port, "GET", "/api/v1/namespaces")
        self.assertEqual(code, 200)
        code, _, body = request(self.port, "POST", "/_emulator/errors?code=429&seconds=1")
        self.assertEqual((code, json.loads(body)), (200, {"code": 429, "seconds": 1.0}))
        code, headers, body = request(self.port, "GET", "/api/v1/namespaces")
        self.assertEqual(code, 429)
        self.assertEqual(headers["Retry-After"], "1")
        self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")
        self.assertEqual(body, b"Too many requests, please try again later.\n")
        code, _, _ = request(self.port, "POST", "/api/v1/namespaces")
        self.assertEqual(code, 429)
        # Control requests are served meanwhile.
        code, _, body = request(self.port, "GET", "/_emulator/requests")
        self.assertEqual(code, 200)
        self.assertIn(429, [r["code"] for r in json.loads(body)])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            code, _, _ = request(self.port, "GET", "/api/v1/namespaces")
            if code == 200:
                break
            self.assertEqual(code, 429)
            time.sleep(0.1)
        self.assertEqual(code, 200)

    def test_500_is_an_internal_error_status(self):
        request(self.port, "POST", "/_emulator/errors?code=500&seconds=30")
        code, headers, body = request(self.port, "GET", "/api/v1/namespaces/default")
        self.assertEqual(code, 500)
        self.assertEqual(headers["Content-Type"], "application/json")
        status = json.loads(body)
        self.assertEqual((status["kind"], status["status"], status["reason"], status["code"]),
                         ("Status", "Failure", "InternalError", 500))
        self.assertTrue(status["message"].startswith("Internal error occurred: "))
        self.assertEqual(len(status["details"]["causes"]), 1)
        # seconds=0 ends it.
        request(self.port, "POST", "/_emulator/errors?code=500&seconds=0")
        code, _, _ = request(self.port, "GET", "/api/v1/namespaces/default")
        self.assertEqual(code, 200)

    def test_bad_arguments_are_refused(self):
        for query in ("code=503&seconds=1", "code=429&seconds=x", "seconds=1"):
            code, _, body = request(self.port, "POST", "/_emulator/errors?" + query)
            self.assertEqual(code, 400, query)
            self.assertEqual(json.loads(body)["reason"], "BadRequest")


if __name__ == "__main__":
    unittest.main()
