"""A Flask application with no CSRF protection and no session of its own.

gatehouse protects it: it gives the application the CSRF token in the
X-CSRF-Token request field, to embed in its forms, and refuses forged
requests before they reach it; it keeps the session, passing the user as
X-Session-User and taking a login through the X-Session-Set response field.
"""
import html
import os

from flask import Flask, Response, redirect, request

app = Flask(__name__)
comments = []


def page():
    token = request.headers.get("X-CSRF-Token", "")
    user = request.headers.get("X-Session-User", "")
    items = "".join(f"<li>{html.escape(c)}</li>" for c in comments)
    return f"""<!doctype html>
<html><head><title>comments</title></head><body>
<p id="user">{html.escape(user) or "anonymous"}</p>
<form id="comment" method="post" action="/comment">
<input type="hidden" name="csrf_token" value="{html.escape(token)}">
<input name="text" id="text"><button id="send">send</button>
</form>
<form id="login" method="post" action="/login">
<input type="hidden" name="csrf_token" value="{html.escape(token)}">
<input name="user" id="name"><button id="enter">log in</button>
</form>
<ul id="comments">{items}</ul>
</body></html>"""


@app.get("/")
def index():
    return page()


@app.post("/comment")
def comment():
    comments.append(request.form.get("text", ""))
    return f"saved {len(comments)}"


@app.post("/login")
def login():
    resp = redirect("/", code=303)
    resp.headers["X-Session-Set"] = "user=" + request.form.get("user", "")
    return resp


@app.post("/logout")
def logout():
    resp = redirect("/", code=303)
    resp.headers["X-Session-Destroy"] = "1"
    return resp


@app.get("/count")
def count():
    return str(len(comments))


@app.route("/env", methods=["GET", "POST"])
def env():
    keys = ["HTTP_X_CSRF_TOKEN", "GATEHOUSE_CSRF_TOKEN", "HTTP_X_SESSION_USER", "HTTP_X_FORWARDED_USER",
            "HTTP_X_FORWARDED_EMAIL", "HTTP_GATEHOUSE_DEBUG"]
    body = "".join(f"{k}={request.environ.get(k, '')}\n" for k in keys)
    return Response(body, mimetype="text/plain")
