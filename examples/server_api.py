"""Use the data centre's web API from a script: sign in, make an API token, upload, analyse, read events.

Run: ``python examples/server_api.py [--out DIR]``. It starts its own throwaway ``dbrain serve`` (with one
worker) on 127.0.0.1 and a user made with ``dbrain admin``; against a real data centre, skip those two steps
and use your own address and API token. Only the standard library is used on the client side.
"""

import argparse
import http.cookiejar
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dbrain

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"


def call(opener, method, url, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with opener.open(request, timeout=60) as answer:
        return json.loads(answer.read() or b"null")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="example-out")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DBRAIN_HOME": str((out / "home").resolve())}

    # A throwaway data centre and its first user (what an IT team does once, with `dbrain admin`).
    password = "-".join(secrets.token_hex(3) for _ in range(4))
    subprocess.run(
        [sys.executable, "-m", "dbrain", "admin", "create-user", "--username", "tech", "--site", "Example Hospital",
         "--role", "technologist", "--password-stdin"],
        input=password, text=True, env=env, check=True, capture_output=True,
    )  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dbrain",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--insecure-cookies",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        for _ in range(120):  # wait for the server to listen
            try:
                call(browser, "GET", f"{base}/api/health")
                break
            except OSError:
                time.sleep(0.5)
        # Sign in once to make an API token; scripts then send only the token.
        me = call(browser, "POST", f"{base}/api/auth/login", {"username": "tech", "password": password})
        token = call(browser, "POST", f"{base}/api/tokens", {"name": "example"}, {"X-CSRF-Token": me["csrf_token"]})["token"]
        api = urllib.request.build_opener()
        auth = {"Authorization": f"Bearer {token}"}

        upload = call(
            api, "POST", f"{base}/api/recordings?filename=sample.edf", raw=SAMPLE.read_bytes(),
            headers={**auth, "Content-Type": "application/octet-stream"},
        )  # fmt: skip
        print(f"uploaded recording {upload['id']} (de-identified on arrival)")
        analysis = call(api, "POST", f"{base}/api/recordings/{upload['id']}/analyses", {"only": ["recording", "seizures"]}, auth)
        for _ in range(600):
            analysis = call(api, "GET", f"{base}/api/analyses/{analysis['id']}", headers=auth)
            if analysis["status"] in ("done", "failed"):
                break
            time.sleep(1)
        print(f"analysis {analysis['id']}: {analysis['status']}")
        events = call(api, "GET", f"{base}/api/recordings/{upload['id']}/events", headers=auth)
        (out / "events.json").write_text(json.dumps(events, indent=1))
        print(f"{len(events)} events -> {out / 'events.json'}")
        if analysis["status"] != "done":
            sys.exit(f"analysis ended {analysis['status']}: {analysis.get('error')}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
