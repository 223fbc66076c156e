"""The local stack in one process: moto (Secrets Manager and DynamoDB), the Data API stand-in, the
Slack receiver and the Lambda Runtime API harness, each on a free 127.0.0.1 port.

    python3 devstack/stack.py [--quiet] [--exit-on-stdin-eof] [--sample]

prints exactly one line, ``READY {"moto": P1, "dataapi": P2, "slack": P3, "runtime": P4,
"secrets": P5, "dynamo": P6}``, then serves until SIGTERM or SIGINT, or
(``--exit-on-stdin-eof``) until its stdin reaches EOF: a parent that keeps the pipe open and drops
it stops the stack even when the parent dies. ``secrets`` (secrets.py) and ``dynamo``
(dynamo_faults.py) are Secrets Manager and DynamoDB with faults on request, in front of moto:
``environment()`` points the function at moto itself, and a test opts into a front by pointing
AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL_DYNAMODB at it. ``--sample``
(``scripts/stack up``) also stores the sample secret, loads the sample queries and prints the
environment for a second shell.

From Python (demo.py, selftest.py, bench/run.py, scripts/):

    sys.path.insert(0, "devstack"); import stack
    s = stack.start(); s.ports; s.env(); s.put_secret(name, {...}); s.load_cluster(scenario)
    s.create_table(name)   # the thread-mode state table, in moto
    s.control("slack", "GET", "/_control/received"); s.stop()

``start()`` runs this file as a child process (the stand-ins then never compete with the caller
for the GIL, which matters to the benchmark) and reads its READY line.
"""

import argparse
import json
import logging
import os
import select
import signal
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
REGION = "us-east-1"
SERVICES = ("moto", "dataapi", "slack", "runtime", "secrets", "dynamo")


# ----- the client side -----------------------------------------------------------------------
class StackError(RuntimeError):
    pass


def request(port, method, path, body=None, headers=None, timeout=60):
    """(status, parsed JSON or text) of one request; HTTP errors are returned, not raised."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text.strip() else None
    except ValueError:
        return status, text


class Stack:
    """A running stack (a child process); stop() or leaving a `with` block ends it."""

    def __init__(self, proc, ports):
        self.proc = proc
        self.ports = ports

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def url(self, service):
        return f"http://{HOST}:{self.ports[service]}"

    def env(self):
        """What the function needs to reach the stack (merge into a clean environment)."""
        return environment(self.ports)

    def control(self, service, method, path, body=None, timeout=60):
        status, answer = request(self.ports[service], method, path, body, timeout=timeout)
        if status >= 300:
            raise StackError(f"{service} {method} {path}: HTTP {status} {answer}")
        return answer

    def put_secret(self, name, value):
        return put_secret(self.ports["moto"], name, value)

    def create_table(self, name):
        return create_table(self.ports["moto"], name)

    def load_cluster(self, scenario):
        return self.control("dataapi", "POST", "/_control/cluster", scenario)

    def script(self, script):
        return self.control("dataapi", "POST", "/_control/script", script)

    def slack_received(self):
        return self.control("slack", "GET", "/_control/received")

    def stop(self, timeout=10):
        """EOF on the child's stdin, then SIGTERM and SIGKILL if it lingers. Returns its status."""
        try:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.close()
                    return self.proc.wait(timeout)
                except (OSError, subprocess.TimeoutExpired):
                    self.proc.terminate()
                    try:
                        return self.proc.wait(timeout)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
            return self.proc.wait()
        finally:
            self.proc.stdout.close()


def start(quiet=True, python=None, timeout=120):
    """Starts the stack as a child process and returns once every service answers."""
    args = [python or sys.executable, os.path.join(HERE, "stack.py"), "--exit-on-stdin-eof"]
    if quiet:
        args.append("--quiet")
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    readable, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().decode("utf-8", "replace").strip() if readable else ""
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        raise StackError(f"devstack/stack.py did not announce READY within {timeout} s: {line!r}")
    return Stack(proc, json.loads(line[len("READY "):]))


def environment(ports):
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://{HOST}:{ports['moto']}",
        "AWS_ENDPOINT_URL_REDSHIFT_DATA": f"http://{HOST}:{ports['dataapi']}",
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://{HOST}:{ports['moto']}",
    }


def unchecked_sigv4(service):
    """An Authorization header moto accepts: it routes a request by the service in the SigV4
    credential scope and does not check the signature."""
    return (f"AWS4-HMAC-SHA256 Credential=testing/20261128/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0")


def put_secret(moto_port, name, value):
    """Creates (or updates) a secret in moto; returns its ARN."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "Authorization": unchecked_sigv4("secretsmanager")}

    def call(operation, body):
        return request(moto_port, "POST", "/", body, {**headers, "X-Amz-Target": f"secretsmanager.{operation}"})

    status, answer = call("CreateSecret", {"Name": name, "SecretString": json.dumps(value)})
    if status == 400 and "ResourceExistsException" in str(answer):
        status, answer = call("PutSecretValue", {"SecretId": name, "SecretString": json.dumps(value)})
    if status != 200:
        raise StackError(f"storing secret {name} in moto: HTTP {status} {answer}")
    return answer["ARN"]


def dynamodb(port, operation, body):
    """(status, answer) of one DynamoDB call (AWS JSON 1.0) to moto, or to the fault front."""
    return request(port, "POST", "/", body, {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        "Authorization": unchecked_sigv4("dynamodb"),
    })


def create_table(moto_port, name):
    """Creates thread mode's state table in moto with the keys src/state/store.rs uses (partition
    key `pk`, sort key `sk`, both strings; on demand); returns its description. A table that
    already exists is kept."""
    status, answer = dynamodb(moto_port, "CreateTable", {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    })
    if status == 400 and "ResourceInUseException" in str(answer):
        status, answer = dynamodb(moto_port, "DescribeTable", {"TableName": name})
        if status == 200:
            return answer["Table"]
    if status != 200:
        raise StackError(f"creating table {name} in moto: HTTP {status} {answer}")
    return answer["TableDescription"]


# ----- the server side -----------------------------------------------------------------------
def moto_ready(port):
    try:
        return request(port, "GET", "/moto-api/data.json", timeout=5)[0] == 200
    except OSError:
        return False


def serve_all(quiet):
    """Binds and starts every service in threads; returns (ports, stop function)."""
    # moto's werkzeug server answers in two writes, like http.server: without TCP_NODELAY a
    # kept-alive client waits for its delayed ACK (~40 ms a call). The devstack servers set it.
    socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    # Here, not at the top: a caller that only uses start() and the client does not pay for them.
    sys.path.insert(0, HERE)
    from moto.server import ThreadedMotoServer

    import _httpbase
    import dataapi
    import dynamo_faults
    import runtime_api
    import secrets
    import slack

    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    moto.start()
    servers = {
        "dataapi": _httpbase.make_server(dataapi.DataApiHandler, dataapi.State(), HOST, 0, quiet),
        "slack": _httpbase.make_server(slack.SlackHandler, slack.State(), HOST, 0, quiet),
        "runtime": _httpbase.make_server(
            runtime_api.RuntimeHandler, runtime_api.State("redshift-long-query-alert"), HOST, 0, quiet
        ),
    }
    moto_port = moto.get_host_and_port()[1]
    # Secrets Manager with faults on request, passing everything else to moto.
    servers["secrets"] = _httpbase.make_server(secrets.SecretsHandler, secrets.State(moto_port), HOST, 0, quiet)
    # DynamoDB likewise (thread mode's state table).
    servers["dynamo"] = _httpbase.make_server(
        dynamo_faults.DynamoHandler, dynamo_faults.State(moto_port), HOST, 0, quiet
    )
    for name, server in servers.items():
        server.serve_in_thread(name)
    ports = {"moto": moto_port, **{n: s.port for n, s in servers.items()}}
    give_up = time.monotonic() + 60
    while not moto_ready(ports["moto"]):
        if time.monotonic() > give_up:
            raise StackError("moto did not answer /moto-api/data.json")
        time.sleep(0.05)

    def stop():
        # In parallel: each server notices the request to stop at its next poll (up to 0.5 s).
        stoppers = [threading.Thread(target=s.stop) for s in servers.values()]
        stoppers.append(threading.Thread(target=moto.stop))
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(5)

    return ports, stop


def announce_sample(ports):
    """scripts/stack up: the sample secret and queries, and how to use them from another shell."""
    import samples

    url = f"http://{HOST}:{ports['slack']}"
    put_secret(ports["moto"], samples.SECRET_ID, samples.secret(ports["slack"]))
    status, answer = request(ports["dataapi"], "POST", "/_control/cluster", samples.demo_scenario())
    if status != 200:
        raise StackError(f"loading the sample queries: HTTP {status} {answer}")
    exports = {**environment(ports), "SECRET_ID": samples.SECRET_ID}
    lines = [
        "",
        f"moto :{ports['moto']}, Data API :{ports['dataapi']}, Slack :{ports['slack']}, "
        f"Lambda Runtime API :{ports['runtime']}",
        f"secret {samples.SECRET_ID} stored; {len(answer['queries'])} sample queries in flight "
        f"(started relative to now, clock {answer['now']} and running)",
        "",
        "In a second shell:",
        *(f"export {k}={v}" for k, v in exports.items()),
        "unset AWS_PROFILE AWS_ENDPOINT_URL",
        "target/debug/redshift-long-query-alert check --secret-id \"$SECRET_ID\" --minutes 30",
        "",
        f"What Slack received:  curl {url}/_control/received",
        f"The cluster model:    curl http://{HOST}:{ports['dataapi']}/_control/cluster",
        "Ctrl-C stops the stack.",
    ]
    print("\n".join(lines), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin reaches EOF")
    parser.add_argument("--sample", action="store_true", help="store the sample secret and queries")
    args = parser.parse_args()

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    ports, stop = serve_all(args.quiet)
    print("READY " + json.dumps({name: ports[name] for name in SERVICES}), flush=True)
    if args.exit_on_stdin_eof:

        def wait_for_eof():
            # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader makes the
            # interpreter abort at exit when a signal stops the stack first.
            while os.read(sys.stdin.fileno(), 65536):
                pass
            stopping.set()

        threading.Thread(target=wait_for_eof, name="stdin", daemon=True).start()
    if args.sample:
        announce_sample(ports)
    while not stopping.wait(0.1):
        pass
    stop()


if __name__ == "__main__":
    main()
