# The application of TestSlowClients: a quick page, an upload, and a large
# response streamed in blocks.


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/upload":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got %d\n" % len(body)]
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        block = b"x" * 65536
        return (block for _ in range(128))  # 8 MiB
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\n"]
