"""The Flask application of the benchmark (Debian's python3-flask)."""

from flask import Flask, Response

app = Flask(__name__)

BIG = bytes(i * 7 % 251 for i in range(65536))


@app.route("/")
def hello():
    return Response(b"Hello, World!", mimetype="text/plain")


@app.route("/64k")
def big():
    return Response(BIG, mimetype="application/octet-stream")
