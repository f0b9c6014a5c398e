# A streaming test application: records ids ("side") in $SIDE_FILE; sends
# "n" chunks, one every "s" seconds; its close() sleeps "c" seconds.
import os, time
from urllib.parse import parse_qs

class Stream:
    def __init__(self, n, s, c):
        self.n, self.s, self.c = n, s, c
    def __iter__(self):
        for i in range(self.n):
            if i:
                time.sleep(self.s)
            yield b"chunk%d\n" % i
    def close(self):
        time.sleep(self.c)

def app(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    rid = q.get("id", ["?"])[0]
    side = os.environ.get("SIDE_FILE")
    if side and "side" in q:
        with open(side, "a") as f:
            f.write(rid + "\n")
    if "n" in q:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Stream(int(q["n"][0]), float(q["s"][0]), float(q["c"][0]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("id=" + rid).encode()]
