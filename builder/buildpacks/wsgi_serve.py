"""Serve a WSGI app with the standard library: apprun's launcher for
Python apps that bring no WSGI server of their own.

Usage: python3 wsgi_serve.py MODULE:ATTR

It binds 0.0.0.0:$PORT (default 8080), serves each request on its own
thread, and on SIGTERM stops accepting, finishes the requests in flight and
exits 0.
"""

import importlib
import os
import signal
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


class Handler(WSGIRequestHandler):
    def log_message(self, format, *args):
        sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))


def main():
    if len(sys.argv) != 2 or ":" not in sys.argv[1]:
        sys.exit("usage: wsgi_serve.py MODULE:ATTR")
    module_name, attr = sys.argv[1].split(":", 1)
    sys.path.insert(0, os.getcwd())
    app = getattr(importlib.import_module(module_name), attr)
    port = int(os.environ.get("PORT") or "8080")
    server = make_server("0.0.0.0", port, app, server_class=ThreadingWSGIServer, handler_class=Handler)

    def stop(signum, frame):
        # shutdown blocks until serve_forever returns, so it runs on its
        # own thread rather than in the signal handler's.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write("serving %s on 0.0.0.0:%d\n" % (sys.argv[1], port))
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
