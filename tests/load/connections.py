#!/usr/bin/env python3
"""Hold many idle TCP connections to a server, for the load tests.

Usage: connections.py HOST PORT COUNT

Raises this process's open-file limit to its hard limit, opens COUNT
connections (sending nothing), prints "ready <opened>" and waits until its
standard input closes, then closes them all and exits. Exit 2 if fewer than
COUNT could be opened, with the reason.
"""

import resource
import socket
import sys


def main() -> int:
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, count + 256) if hard != resource.RLIM_INFINITY else count + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sockets = []
    try:
        for _ in range(count):
            s = socket.create_connection((host, port), timeout=30)
            sockets.append(s)
    except OSError as e:
        print(f"opened {len(sockets)} of {count}: {e}", file=sys.stderr)
        return 2
    print(f"ready {len(sockets)}", flush=True)
    sys.stdin.read()
    for s in sockets:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
