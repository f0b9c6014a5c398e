"""A Flask application for gatehouse's tests."""

from flask import Flask, jsonify, redirect, request, session, url_for

app = Flask(__name__)
app.secret_key = b"test-only-secret"


@app.route("/")
def index():
    return "Hello from Flask"


@app.route("/json", methods=["POST"])
def echo_json():
    data = request.get_json()
    return jsonify(got=data, method=request.method, script_root=request.script_root)


@app.route("/user/<name>")
def user(name):
    return jsonify(name=name, path=request.path, args=request.args.to_dict())


@app.route("/go")
def go():
    return redirect(url_for("user", name="redirected"))


@app.route("/count")
def count():
    session["n"] = session.get("n", 0) + 1
    return str(session["n"])


@app.route("/upload", methods=["POST"])
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(filename=f.filename, size=len(data), field=request.form.get("note"))


@app.route("/big")
def big():
    return "x" * 65536


@app.route("/cookie")
def cookie():
    resp = app.make_response("set")
    resp.set_cookie("flavour", "oatmeal", httponly=True)
    return resp
