"""WSGI applications for gatehouse's tests. Standard library only."""

import json
import os
import sys
import tempfile
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator


def _text(start_response, body, status="200 OK", extra=()):
    body = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))] + list(extra))
    return [body]


def _read_all(inp):
    chunks = []
    while True:
        b = inp.read(7000)  # an odd size: pieces never line up with frames
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def plain(environ, start_response):
    path = environ["PATH_INFO"]
    q = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/hello":
        return _text(start_response, "Hello, world")
    if path == "/pid":
        return _text(start_response, str(os.getpid()))
    if path == "/echo":
        body = _read_all(environ["wsgi.input"])
        return _text(start_response, body, extra=[("X-Length", str(len(body)))])
    if path == "/lines":
        lines = environ["wsgi.input"].readlines()
        return _text(start_response, "%d|%s" % (len(lines), lines[-1].decode() if lines else ""))
    if path == "/env":
        keep = {k: v for k, v in environ.items() if isinstance(v, str)}
        keep["wsgi.multithread"] = environ["wsgi.multithread"]
        keep["wsgi.url_scheme"] = environ["wsgi.url_scheme"]
        keep["wsgi.input_terminated"] = environ.get("wsgi.input_terminated")
        body = json.dumps(keep).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/stream":
        n = int(q.get("n", ["5"])[0])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (("chunk %d\n" % i).encode() for i in range(n))
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]
    if path == "/status":
        return _text(start_response, "teapot", status="418 I'm a teapot", extra=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/log":
        environ["wsgi.errors"].write("something to log\nsecond line\n")
        return _text(start_response, "logged")
    if path == "/raise":
        raise RuntimeError("boom before start_response")
    if path == "/print":
        print("printed to stdout")
        return _text(start_response, "printed")
    if path == "/stderr-warning":
        print("a warning on stderr", file=sys.stderr)
        return _text(start_response, "warned")
    if path == "/stderr-traceback":
        import traceback
        try:
            raise ValueError("caught and printed")
        except ValueError:
            traceback.print_exc()
        return _text(start_response, "printed a traceback")
    if path == "/errors-traceback":
        import traceback
        try:
            raise KeyError("logged to wsgi.errors")
        except KeyError:
            environ["wsgi.errors"].write(traceback.format_exc())
        return _text(start_response, "logged a traceback")
    if path == "/raise-after":
        def gen():
            yield b"first part "
            raise RuntimeError("boom mid-stream")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/raise-late":
        def gen():
            yield b"first part "
            time.sleep(0.2)  # the first block reaches the client meanwhile
            raise RuntimeError("boom late")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/exc-info":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("handled")
        except ValueError:
            return _text(lambda s, h: start_response(s, h, sys.exc_info()), "error page", status="500 Internal Server Error")
    if path == "/bad-header":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Split", "a\r\nSet-Cookie: evil=1")])
        return [b"never"]
    if path == "/length":
        # Content-Length fields as the query lists them (cl=5&cl=6), then the body.
        q = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        body = q.get("body", ["hello"])[0].encode()
        start_response("200 OK", [("Content-Type", "text/plain")] + [("Content-Length", v) for v in q.get("cl", [])])
        return [body]
    if path == "/read-after":
        # Reads wsgi.input once the file named by flag exists (the test makes
        # it when the client has half-closed), and logs what it read.
        flag = q["flag"][0]
        for _ in range(1000):
            if os.path.exists(flag):
                break
            time.sleep(0.005)
        data = environ["wsgi.input"].read()
        environ["wsgi.errors"].write("input %r\n" % data)
        return _text(start_response, "read %d" % len(data))
    if path == "/hop":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close"), ("Transfer-Encoding", "chunked")])
        return [b"hop"]
    if path == "/no-start":
        return [b"data without a head"]
    if path == "/crash":
        time.sleep(float(q.get("after", ["0"])[0]))
        os._exit(1)
    if path == "/kill-self":
        import signal
        os.kill(os.getpid(), signal.SIGKILL)
    if path == "/slow":
        time.sleep(float(q.get("s", ["5"])[0]))
        return _text(start_response, "slept")
    if path == "/forever":
        # A stream that only ends when the client goes away; close() records
        # that it was called.
        class Forever:
            def __iter__(self):
                while True:
                    yield b"x" * 1024
                    time.sleep(0.01)

            def close(self):
                environ["wsgi.errors"].write("forever closed\n")

        start_response("200 OK", [("Content-Type", "text/plain")])
        return Forever()
    if path == "/file":
        f = open(os.environ["TEST_FILE"], "rb")
        f.seek(int(q.get("offset", ["0"])[0]))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f)
    if path == "/filelike":
        import io
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"not a real file"), 4)
    return _text(start_response, "no such page: " + path, status="404 Not Found")


def _strict(environ, start_response):
    # wsgiref.validate's InputWrapper insists on read(size).
    return plain(environ, start_response)


# The same application behind wsgiref.validate, which asserts PEP 3333 on
# every call: the environ's types and keys, the input and errors streams,
# start_response's arguments and the result's iteration and close().
validated = validator(_strict)


