# A test application for requests queued in a worker: it answers with the
# request's id, records the ids of requests that ran in $SIDE_FILE (with
# "side"), sleeps s seconds (and a more after reading a POST's body), and
# sends "big" bytes when asked.
import os, time
from urllib.parse import parse_qs

def app(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    rid = q.get("id", ["?"])[0]
    side = os.environ.get("SIDE_FILE")
    if side and "side" in q:
        with open(side, "a") as f:
            f.write(rid + "\n")
    s = float(q.get("s", ["0"])[0])
    if s:
        time.sleep(s)
    if environ["REQUEST_METHOD"] == "POST":
        environ["wsgi.input"].read()
    a = float(q.get("a", ["0"])[0])  # seconds more, after the body is read
    if a:
        time.sleep(a)
    body = ("id=" + rid).encode()
    if "big" in q:
        body = b"x" * int(q["big"][0])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
