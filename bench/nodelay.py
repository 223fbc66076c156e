"""Runs a devstack server, or moto's server, with TCP_NODELAY on every connection it accepts.

Why: Python's http.server sends a response's headers and its body in two writes. On a kept-alive
connection (the Rust SDK, hyper, reqwest, urllib3 and the Lambda runtime clients all keep theirs)
Nagle's algorithm holds the body back until the client ACKs the headers, and the client delays
that ACK by up to 40 ms: every call to a stand-in then costs ~40 ms that AWS and Slack do not
charge. That would swamp the sub-millisecond figures this benchmark is after, for the Rust
function and the Python peer alike. `socketserver.StreamRequestHandler.disable_nagle_algorithm`
is the standard library's own switch for it; the servers themselves are run unchanged.

Usage: python bench/nodelay.py devstack/dataapi.py --port 0 --quiet
       python bench/nodelay.py moto_server -H 127.0.0.1 -p PORT
"""

import os
import runpy
import socketserver
import sys

socketserver.StreamRequestHandler.disable_nagle_algorithm = True

target = sys.argv[1]
sys.argv = sys.argv[1:]
if target == "moto_server":
    from moto.server import main

    sys.exit(main())
sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
runpy.run_path(target, run_name="__main__")
