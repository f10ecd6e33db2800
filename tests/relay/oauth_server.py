#!/usr/bin/python3
"""Local HTTPS OAuth 2.0 authorization server for relaymail's tests.

Listens on 127.0.0.1, an ephemeral port, TLS with --cert/--key (the test CA's
localhost certificate: $CERTS/server.pem and server.key of tests/e2e/lib.sh);
writes DIR/oauth.pid and then DIR/oauth.port (the port number and a newline),
each atomically, once it accepts connections.  Stops on SIGTERM/SIGINT or
when the process that started it is gone.

Endpoints (https://localhost:PORT):
  POST /devicecode   RFC 8628 3.1/3.2 device authorization (client_id, scope)
  POST /token        RFC 6749 token endpoint, grant_type =
                     urn:ietf:params:oauth:grant-type:device_code (RFC 8628 3.4/3.5),
                     refresh_token, authorization_code (with PKCE, RFC 7636),
                     client_credentials (a scope ending in /.default)
  GET  /authorize    authorization request (response_type=code, PKCE S256,
                     loopback redirect_uri) -> 302 to redirect_uri?code=..&state=..
  GET  /device       the verification page (text only)
  GET  /control/expire-access   every issued access token expires now
  GET  /control/revoke-refresh  every refresh token is revoked
  GET  /control/stats           JSON: requests per endpoint, grant and result
  GET  /control/fault?spec=SPEC adds a fault (as --fault); /control/clear-faults
Control without curl:  oauth_server.py --dir DIR --ctl expire-access [--ca CA]

Files in DIR:
  oauth.port, oauth.pid
  tokens.json     {ACCESS_TOKEN: {"user": U or "app", "expires": EPOCH, "scope": S}}
                  (atomic; read by relay.py --oauth-dir DIR)
  issued-tokens   every access and refresh token issued or seeded, one a line
  oauth.log       one line per request:
                  "<endpoint> <grant_type or -> <ok | error code> [client=ID]
                   [secret=ok|basic|missing|bad] [pkce=ok|bad] [TOO-FAST]"
                  never a token, code or secret.
  refresh.json    the refresh tokens (kept over a restart with the same DIR)

Faults (--fault, repeatable): [ENDPOINT@]KIND[:ARG][#N]
  ENDPOINT devicecode | token | authorize (default: all three)
  KIND slow:SECONDS (answer late)  malformed (200, a body that is not JSON)
       html (200 text/html)  status:CODE (CODE with a JSON error body)
       drop (close without an answer)  huge:BYTES (200 JSON this large)
  #N   only for the next N matching requests
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_BODY = 64 * 1024
ENDPOINTS = ("devicecode", "token", "authorize")
FAULT_KINDS = ("slow", "malformed", "html", "status", "drop", "huge")
PKCE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Polls this much early still count as on time (timer granularity).
POLL_SLACK = 0.05


class OAuthError(Exception):
    """An RFC 6749 5.2 error answer."""

    def __init__(self, code, description, status=400):
        super().__init__(code)
        self.code = code
        self.description = description
        self.status = status


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_access_token():
    """~1500 characters shaped like a JWT, as Microsoft's are."""
    header = b64url(b'{"typ":"JWT","nonce":"%s","alg":"RS256"}' % secrets.token_hex(16).encode())
    return "%s.%s.%s" % (header, b64url(secrets.token_bytes(840)), b64url(secrets.token_bytes(256)))


def new_refresh_token():
    return "M.C5" + secrets.token_urlsafe(420)


def parse_fault(spec):
    """'[ENDPOINT@]KIND[:ARG][#N]' -> dict; ValueError when malformed."""
    times = None
    if "#" in spec:
        spec, n = spec.rsplit("#", 1)
        times = int(n)
    endpoint = None
    if "@" in spec:
        endpoint, spec = spec.split("@", 1)
        if endpoint not in ENDPOINTS:
            raise ValueError("unknown endpoint %r" % endpoint)
    kind, _, arg = spec.partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError("unknown fault %r" % kind)
    if kind in ("slow", "status", "huge"):
        float(arg)  # required and numeric
    return {"endpoint": endpoint, "kind": kind, "arg": arg, "times": times}


class Store:
    """All server state, behind one lock (the server is threaded)."""

    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.lock = threading.Lock()
        self.access = {}      # token -> {"user", "expires", "scope"}
        self.refresh = {}     # token -> {"user", "scope", "client_id", "revoked"}
        self.devices = {}     # device_code -> state
        self.codes = {}       # authorization code -> state
        self.faults = [parse_fault(f) for f in args.fault]
        self.stats = {}
        self.port = 0
        self.log = open(os.path.join(self.dir, "oauth.log"), "a", buffering=1)
        try:
            with open(os.path.join(self.dir, "refresh.json")) as f:
                self.refresh = json.load(f)
        except (OSError, ValueError):
            pass
        for token in args.seed_refresh:
            self.add_refresh(token, args.user, args.scope, args.client_id)
        self.save()

    def write_atomic(self, name, data):
        path = os.path.join(self.dir, name)
        tmp = os.path.join(self.dir, ".tmp." + name)
        with open(tmp, "w") as f:
            f.write(data)
        os.rename(tmp, path)

    def save(self):
        self.write_atomic("tokens.json", json.dumps(self.access, indent=1))
        self.write_atomic("refresh.json", json.dumps(self.refresh, indent=1))

    def record_issued(self, token):
        with open(os.path.join(self.dir, "issued-tokens"), "a") as f:
            f.write(token + "\n")

    def add_refresh(self, token, user, scope, client_id):
        self.refresh[token] = {"user": user, "scope": scope, "client_id": client_id,
                               "revoked": False}
        self.record_issued(token)

    def count(self, key):
        self.stats[key] = self.stats.get(key, 0) + 1

    def take_fault(self, endpoint):
        for fault in self.faults:
            if fault["endpoint"] not in (None, endpoint):
                continue
            if fault["times"] is not None:
                if fault["times"] <= 0:
                    continue
                fault["times"] -= 1
            return fault
        return None

    def issue(self, user, scope, client_id, refresh=True):
        """A token response (RFC 6749 5.1); the caller holds the lock."""
        token = new_access_token()
        ttl = self.args.access_ttl
        self.access[token] = {"user": user, "expires": int(time.time()) + ttl, "scope": scope}
        self.record_issued(token)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": ttl,
                  "scope": scope}
        if refresh:
            rt = new_refresh_token()
            self.add_refresh(rt, user, scope, client_id)
            answer["refresh_token"] = rt
        self.save()
        return answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "relaymail-test-oauth/1"
    timeout = 30

    def log_message(self, fmt, *args):   # no stderr noise per request
        pass

    @property
    def store(self):
        return self.server.store

    # ---- plumbing --------------------------------------------------------------

    def send(self, status, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, obj, headers=()):
        self.send(status, json.dumps(obj), headers=headers)

    def log_line(self, endpoint, grant, result, notes):
        self.store.log.write(" ".join([endpoint, grant or "-", result] + notes) + "\n")

    def read_body(self):
        """The request body (bounded); OAuthError when unusable."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise OAuthError("invalid_request", "chunked bodies are not accepted", 411)
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise OAuthError("invalid_request", "Content-Length required", 411)
        if int(length) > MAX_BODY:
            # Read (a bounded amount) before answering so that the client,
            # still sending, gets to see the 413; then close.
            left = min(int(length), 16 * MAX_BODY)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            self.close_connection = True
            raise OAuthError("invalid_request", "request body too large", 413)
        return self.rfile.read(int(length))

    def parse_form(self, raw):
        """The form-encoded body as {name: value}; OAuthError when unusable."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "form-encoded body required")
        try:
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                                           strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "malformed form body")
        form = {}
        for k, v in pairs:
            if k in form:   # RFC 6749 3.1: no parameter more than once
                raise OAuthError("invalid_request", "parameter %s repeated" % k)
            form[k] = v
        return form

    def apply_fault(self, endpoint):
        """True when a fault answered (or dropped) the request."""
        with self.store.lock:
            fault = self.store.take_fault(endpoint)
        if fault is None:
            return False
        kind, arg = fault["kind"], fault["arg"]
        note = "FAULT=%s" % kind
        if kind == "slow":
            time.sleep(float(arg))
            self.fault_note = note
            return False
        self.log_line(endpoint, None, "fault", [note])
        if kind == "drop":
            self.close_connection = True
            self.connection.close()
        elif kind == "malformed":
            self.send(200, "access_token=this-is-not-json&{", "application/json")
        elif kind == "html":
            self.send(200, "<html><body><h1>Sign in</h1><p>Please sign in.</p></body></html>\n",
                      "text/html; charset=utf-8")
        elif kind == "status":
            self.send_json(int(float(arg)), {"error": "server_error",
                                             "error_description": "injected status %s" % arg})
        elif kind == "huge":
            size = int(float(arg))
            self.send(200, '{"access_token":"%s"}' % ("A" * size))
        return True

    # ---- dispatch --------------------------------------------------------------

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        endpoint = path.strip("/")
        self.fault_note = None
        if endpoint not in ("devicecode", "token"):
            self.drain()
            self.send_json(404, {"error": "not_found"})
            return
        with self.store.lock:
            self.store.count("requests." + endpoint)
        notes, grant, raw, early = [], None, None, None
        try:
            raw = self.read_body()
        except OAuthError as e:
            early = e    # answered below, unless a fault answers
        # The body is read first: closing with unread data would reset the
        # connection and lose the answer.
        if self.apply_fault(endpoint):
            return
        try:
            if early is not None:
                raise early
            form = self.parse_form(raw)
            grant = form.get("grant_type") if endpoint == "token" else None
            with self.store.lock:
                if endpoint == "devicecode":
                    answer = self.devicecode(form, notes)
                else:
                    answer = self.token(form, notes)
            status, result = 200, "ok"
        except OAuthError as e:
            answer = {"error": e.code, "error_description": e.description}
            status, result = e.status, e.code
        if self.fault_note:
            notes.append(self.fault_note)
        with self.store.lock:
            self.store.count("%s.%s.%s" % (endpoint, grant or "-", result))
            if "TOO-FAST" in notes:
                self.store.count("too_fast")
        self.log_line(endpoint, grant, result, notes)
        headers = [("WWW-Authenticate", 'Basic realm="oauth"')] if status == 401 else []
        self.send_json(status, answer, headers)

    def drain(self):
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and int(length) <= MAX_BODY:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.fault_note = None
        if url.path == "/authorize":
            with self.store.lock:
                self.store.count("requests.authorize")
            if not self.apply_fault("authorize"):
                self.authorize(query)
        elif url.path == "/device":
            self.log_line("device", None, "ok", [])
            self.send(200, "Enter the code shown by the device.\n", "text/plain; charset=utf-8")
        elif url.path.startswith("/control/"):
            self.control(url.path[len("/control/"):], query)
        else:
            self.send_json(404, {"error": "not_found"})

    # ---- client authentication -------------------------------------------------

    def check_client(self, form, notes, confidential=False):
        """RFC 6749 2.3: client_id and, when a secret is configured, the secret
        in the body (client_secret) or by HTTP Basic."""
        args = self.store.args
        client_id, secret, how = form.get("client_id"), form.get("client_secret"), "ok"
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:], validate=True).decode().partition(":")
                user, pw = urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(pw)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "malformed Authorization header", 401)
            if secret is not None or (client_id is not None and client_id != user):
                raise OAuthError("invalid_request", "more than one client authentication")
            client_id, secret, how = user, pw, "basic"
        if client_id is not None:
            notes.append("client=%s" % client_id)
        if client_id != args.client_id:
            raise OAuthError("invalid_client", "unknown client_id", 401 if client_id else 400)
        if args.client_secret is None:
            if confidential:
                raise OAuthError("unauthorized_client",
                                 "this client may not use client_credentials")
            if secret is not None:
                notes.append("secret=unexpected")
            return client_id
        if secret is None:
            notes.append("secret=missing")
            raise OAuthError("invalid_client", "client authentication required", 401)
        if not hmac.compare_digest(secret.encode(), args.client_secret.encode()):
            notes.append("secret=bad")
            raise OAuthError("invalid_client", "client authentication failed", 401)
        notes.append("secret=" + how)
        return client_id

    # ---- device authorization (RFC 8628) ----------------------------------------

    def devicecode(self, form, notes):
        args = self.store.args
        client_id = form.get("client_id")
        if client_id:
            notes.append("client=%s" % client_id)
        if client_id != args.client_id:
            raise OAuthError("invalid_client", "unknown client_id", 401 if client_id else 400)
        scope = form.get("scope") or args.scope
        device_code = "DC-" + secrets.token_urlsafe(48)
        user_code = "%s-%s" % (secrets.token_hex(2).upper(), secrets.token_hex(2).upper())
        now = time.time()
        self.store.devices[device_code] = {
            "client_id": client_id, "scope": scope, "issued": now,
            "expires": now + args.device_expires_in, "interval": args.interval,
            "last": None, "slow_left": args.device_slow_down,
            "pending_left": args.device_pending, "used": False,
        }
        uri = "https://localhost:%d/device" % self.store.port
        return {"device_code": device_code, "user_code": user_code,
                "verification_uri": uri,
                "verification_uri_complete": uri + "?code=" + user_code,
                "expires_in": args.device_expires_in, "interval": args.interval,
                "message": "To sign in, use a web browser to open the page %s and "
                           "enter the code %s to authenticate." % (uri, user_code)}

    def device_grant(self, form, notes):
        args = self.store.args
        dev = self.store.devices.get(form.get("device_code", ""))
        if dev is None or dev["used"] or dev["client_id"] != form.get("client_id"):
            raise OAuthError("invalid_grant", "unknown device_code")
        now = time.time()
        # RFC 8628 3.5: at most one poll per interval (slow_down raised it);
        # the first poll may come at once.
        if dev["last"] is not None and now - dev["last"] < dev["interval"] - POLL_SLACK:
            notes.append("TOO-FAST")
        dev["last"] = now
        if now >= dev["expires"]:
            raise OAuthError("expired_token", "the device code expired")
        if dev["slow_left"] > 0:
            dev["slow_left"] -= 1
            dev["interval"] += args.slow_down_step
            raise OAuthError("slow_down", "polling too often")
        if dev["pending_left"] > 0:
            dev["pending_left"] -= 1
            raise OAuthError("authorization_pending", "the user has not yet signed in")
        dev["used"] = True
        if args.device_outcome == "deny":
            raise OAuthError("access_denied", "the user declined")
        if args.device_outcome == "expire":
            raise OAuthError("expired_token", "the device code expired")
        return self.store.issue(args.user, dev["scope"], dev["client_id"])

    # ---- the token endpoint ----------------------------------------------------

    def token(self, form, notes):
        grant = form.get("grant_type")
        # The grants below read the client_id from the form: Basic counts too.
        form["client_id"] = self.check_client(form, notes,
                                              confidential=grant == "client_credentials")
        if grant == DEVICE_GRANT:
            return self.device_grant(form, notes)
        if grant == "refresh_token":
            return self.refresh_grant(form)
        if grant == "authorization_code":
            return self.code_grant(form, notes)
        if grant == "client_credentials":
            scope = form.get("scope", "")
            if not scope.endswith("/.default") or " " in scope:
                raise OAuthError("invalid_scope", "client_credentials needs RESOURCE/.default")
            return self.store.issue("app", scope, form.get("client_id"), refresh=False)
        if grant is None:
            raise OAuthError("invalid_request", "grant_type missing")
        raise OAuthError("unsupported_grant_type", "grant_type not supported")

    def refresh_grant(self, form):
        args, store = self.store.args, self.store
        token = form.get("refresh_token", "")
        entry = store.refresh.get(token)
        if entry is None or entry["revoked"]:
            raise OAuthError("invalid_grant", "the refresh token is invalid or revoked")
        scope = form.get("scope") or entry["scope"]
        answer = store.issue(entry["user"], scope, entry["client_id"], refresh=args.rotate)
        if args.rotate:
            entry["revoked"] = True
            store.save()
        elif not args.omit_refresh:
            answer["refresh_token"] = token
        return answer

    def code_grant(self, form, notes):
        store = self.store
        code = store.codes.get(form.get("code", ""))
        if code is None or code["used"] or time.time() > code["expires"]:
            raise OAuthError("invalid_grant", "unknown or used authorization code")
        code["used"] = True   # RFC 6749 4.1.2: one use, whatever the outcome
        if code["client_id"] != form.get("client_id"):
            raise OAuthError("invalid_grant", "code issued to another client")
        if form.get("redirect_uri") != code["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
        verifier = form.get("code_verifier", "")
        good = (43 <= len(verifier) <= 128 and set(verifier) <= PKCE_CHARS and
                hmac.compare_digest(b64url(hashlib.sha256(verifier.encode()).digest()),
                                    code["challenge"]))
        notes.append("pkce=%s" % ("ok" if good else "bad"))
        if not good:
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        return store.issue(store.args.user, code["scope"], code["client_id"])

    # ---- authorization endpoint (GET) ---------------------------------------------

    def authorize(self, q):
        args, notes = self.store.args, []
        if q.get("client_id"):
            notes.append("client=%s" % q["client_id"])
        redirect = q.get("redirect_uri", "")
        parts = urllib.parse.urlsplit(redirect)
        loopback = (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
                    and not parts.fragment)
        if q.get("client_id") != args.client_id or not loopback:
            # RFC 6749 4.1.2.1: never redirect to an unchecked URI.
            why = "unknown client_id" if q.get("client_id") != args.client_id else \
                "redirect_uri must be a loopback http URI"
            self.log_line("authorize", None, "invalid_request", notes)
            self.send(400, "Bad request: %s\n" % why, "text/plain; charset=utf-8")
            return
        params = {}
        challenge = q.get("code_challenge", "")
        if q.get("response_type") != "code":
            params["error"] = "unsupported_response_type"
        elif q.get("code_challenge_method") != "S256" or not (
                43 <= len(challenge) <= 128 and set(challenge) <= PKCE_CHARS):
            params["error"] = "invalid_request"
            notes.append("pkce=bad")
        elif args.authorize_outcome == "deny":
            params["error"] = "access_denied"
        else:
            code = "AC-" + secrets.token_urlsafe(32)
            with self.store.lock:
                self.store.codes[code] = {
                    "client_id": q["client_id"], "redirect_uri": redirect, "challenge": challenge,
                    "scope": q.get("scope") or args.scope, "used": False,
                    "expires": time.time() + 600}
            params["code"] = code
            notes.append("pkce=ok")
        if "state" in q:
            params["state"] = q["state"]
        sep = "&" if parts.query else "?"
        location = redirect + sep + urllib.parse.urlencode(params)
        result = params.get("error", "ok")
        with self.store.lock:
            self.store.count("authorize.-.%s" % result)
        self.log_line("authorize", None, result, notes)
        self.send(302, "", "text/plain", headers=[("Location", location)])

    # ---- control -----------------------------------------------------------------

    def control(self, action, q):
        store = self.store
        with store.lock:
            if action == "expire-access":
                for entry in store.access.values():
                    entry["expires"] = 0
                store.save()
                answer = {"expired": len(store.access)}
            elif action == "revoke-refresh":
                for entry in store.refresh.values():
                    entry["revoked"] = True
                store.save()
                answer = {"revoked": len(store.refresh)}
            elif action == "stats":
                answer = dict(store.stats)
            elif action == "fault":
                try:
                    store.faults.append(parse_fault(q.get("spec", "")))
                except ValueError as e:
                    self.send_json(400, {"error": str(e)})
                    return
                answer = {"faults": len(store.faults)}
            elif action == "clear-faults":
                store.faults = []
                answer = {"faults": 0}
            else:
                self.send_json(404, {"error": "unknown control"})
                return
        self.log_line("control/" + action, None, "ok", [])
        self.send_json(200, answer)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store, ctx):
        super().__init__(("127.0.0.1", 0), Handler)
        self.store = store
        # The handshake happens in the request thread, on the first read: a
        # client that stalls it does not hold up accept().
        self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        pass   # clients that go away, failed handshakes: not the test's business


def control_client(args):
    """--ctl ACTION: one control request to the server of --dir."""
    with open(os.path.join(args.dir, "oauth.port")) as f:
        port = int(f.read())
    ctx = ssl.create_default_context(cafile=args.ca) if args.ca else ssl._create_unverified_context()
    url = "https://localhost:%d/control/%s" % (port, args.ctl)
    with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
        sys.stdout.write(r.read().decode() + "\n")


def watch_parent(stop):
    parent = os.getppid()
    while not stop.wait(1):
        if os.getppid() != parent:
            stop.set()


def main():
    ap = argparse.ArgumentParser(description="HTTPS OAuth 2.0 server for tests")
    ap.add_argument("--dir", required=True, help="state directory (created)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-id", default="relaymail-test")
    ap.add_argument("--client-secret", default=None,
                    help="when given, token requests must authenticate the client with it")
    ap.add_argument("--user", default="alice@example.com", help="the user who signs in")
    ap.add_argument("--scope", default="https://mail.example/smtp offline_access",
                    help="scope when a request names none")
    ap.add_argument("--access-ttl", type=int, default=3600, help="expires_in of access tokens")
    ap.add_argument("--rotate", action="store_true",
                    help="a refresh_token grant returns a new refresh token, the old one dies")
    ap.add_argument("--omit-refresh", action="store_true",
                    help="without --rotate: refresh answers carry no refresh_token")
    ap.add_argument("--device-pending", type=int, default=2,
                    help="polls answered authorization_pending")
    ap.add_argument("--device-slow-down", type=int, default=0,
                    help="polls answered slow_down (before the pending ones)")
    ap.add_argument("--interval", type=int, default=1, help="initial polling interval")
    ap.add_argument("--slow-down-step", type=int, default=5,
                    help="seconds each slow_down adds to the interval")
    ap.add_argument("--device-expires-in", type=int, default=600)
    ap.add_argument("--device-outcome", choices=("approve", "deny", "expire"), default="approve")
    ap.add_argument("--authorize-outcome", choices=("approve", "deny"), default="approve")
    ap.add_argument("--seed-refresh", action="append", default=[], metavar="TOKEN",
                    help="a refresh token valid from the start (for --user)")
    ap.add_argument("--fault", action="append", default=[], metavar="SPEC",
                    help="[ENDPOINT@]KIND[:ARG][#N], see the module text")
    ap.add_argument("--ctl", metavar="ACTION",
                    help="client mode: GET /control/ACTION of the server of --dir, print it")
    ap.add_argument("--ca", help="client mode: CA file to verify the server with")
    args = ap.parse_args()
    if args.ctl:
        control_client(args)
        return
    if not args.cert or not args.key:
        ap.error("--cert and --key are required")
    try:
        [parse_fault(f) for f in args.fault]
    except ValueError as e:
        ap.error("--fault: %s" % e)
    os.makedirs(args.dir, exist_ok=True)
    store = Store(args)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    server = Server(store, ctx)
    store.port = server.server_address[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    store.write_atomic("oauth.pid", "%d\n" % os.getpid())
    store.write_atomic("oauth.port", "%d\n" % store.port)
    threading.Thread(target=watch_parent, args=(stop,), daemon=True).start()
    while not stop.wait(1):
        pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
