#!/usr/bin/env python3
"""Tiny HTTPS stand-in for KMS used by tests/unit/test_kms_client.c.

Usage: kms_fixture_server.py DIR
Creates DIR/cert.pem + DIR/key.pem (self-signed for 127.0.0.1 with the openssl CLI), listens on
127.0.0.1 (ephemeral port, written to DIR/port), and for every POST:
  * records the request as DIR/request.json {"method", "path", "headers": [[name, value]...],
    "body": <latin-1 text>}
  * answers with DIR/response: first line the HTTP status, the rest the body (default 200 {}).
The test drives it one request at a time, so no locking is needed."""
import http.server
import json
import os
import ssl
import subprocess
import sys

d = sys.argv[1]
cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "1"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        rec = {"method": "POST", "path": self.path, "headers": [[k, v] for k, v in self.headers.items()],
               "body": body.decode("latin-1")}
        tmp = os.path.join(d, "request.json.tmp")
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(d, "request.json"))
        status, out = 200, b"{}"
        try:
            with open(os.path.join(d, "response"), "rb") as f:
                first, _, rest = f.read().partition(b"\n")
                status, out = int(first), rest
        except FileNotFoundError:
            pass
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
