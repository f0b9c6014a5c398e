# The WSGI application the uWSGI tests run (PEP 3333, standard library only).
import json
import os
import time


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.endswith("/env"):
        env = {k: v for k, v in environ.items() if isinstance(v, str)}
        body = json.dumps(env, sort_keys=True).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/echo":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(n)
        start_response("201 Created", [("Content-Type", "application/octet-stream"),
                                       ("X-Length", str(len(data)))])
        return [data]
    if path == "/stream":
        go = environ.get("HTTP_X_GO_FILE", "")

        def parts():
            yield b"first\n"
            # The second part waits until the client has read the first: it
            # can only have if the first went out unbuffered.
            for _ in range(1000):
                if os.path.exists(go):
                    break
                time.sleep(0.01)
            yield b"second\n"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return parts()
    if path == "/big":
        chunk = b"0123456789abcdef" * 4096  # 64 KiB
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(160 * len(chunk)))])
        return (chunk for _ in range(160))  # 10 MiB
    if path == "/slow":
        time.sleep(float(environ.get("QUERY_STRING") or "2"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"late"]
    if path == "/status":
        start_response("404 Not Found", [("Content-Type", "text/plain"),
                                         ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return [b"nope"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from uwsgi"]
