#!/usr/bin/python3
"""A tiny HTTP app for the traffic tests: one per "server".

    traffic_app.py --port P --name NAME --version V [--pidfile F]

GET /           -> 200 "NAME VERSION\n"
GET /slow?ms=N  -> the same after N milliseconds (a long-running session)
GET /health     -> 200 "ok\n"
SIGTERM stops it after the requests in flight are answered.
"""

import argparse
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", default="v1")
    ap.add_argument("--pidfile")
    a = ap.parse_args()
    body = ("%s %s\n" % (a.name, a.version)).encode()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # one round trip, no delayed-ACK stalls

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            if u.path == "/slow":
                ms = int(urllib.parse.parse_qs(u.query).get("ms", ["1000"])[0])
                time.sleep(ms / 1000.0)
            out = b"ok\n" if u.path == "/health" else body
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = False

        def handle_error(self, request, client_address):
            pass  # HAProxy closing an idle keep-alive connection is not an error


    srv = Server(("127.0.0.1", a.port), H)
    srv.block_on_close = True

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.pidfile:
        with open(a.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pidfile + ".tmp", a.pidfile)
    srv.serve_forever(poll_interval=0.05)
    srv.server_close()
    if a.pidfile:
        try:
            os.unlink(a.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
