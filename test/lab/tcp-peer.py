# The Linux kernel's TCP as the peer of a namestack connection: listen or connect, send a
# file and receive at the same time, then report what arrived. Prints one JSON line:
# {"received": <bytes>, "sha256": "<hex>", "sent": <bytes>, "error": "<text or null>"}.
#
#   python3 tcp-peer.py listen|connect <address> <port> <file to send> [ready-file]
# With PEER_PROTO=mptcp in the environment the sockets are IPPROTO_MPTCP (the kernel's MPTCP).
import hashlib
import json
import os
import socket
import sys
import threading

role, address, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ready = sys.argv[5] if len(sys.argv) > 5 else None
family = socket.AF_INET6 if ':' in address else socket.AF_INET
proto = 262 if os.environ.get('PEER_PROTO') == 'mptcp' else 0
result = {"received": 0, "sha256": None, "sent": 0, "error": None}

try:
    if role == 'listen':
        srv = socket.socket(family, socket.SOCK_STREAM, proto)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((address, port))
        srv.listen(1)
        if ready:
            open(ready, 'w').close()
        srv.settimeout(60)
        conn, _ = srv.accept()
        # The listener stays open: the kernel takes MPTCP joins through it.
    else:
        conn = socket.socket(family, socket.SOCK_STREAM, proto)
        conn.settimeout(60)
        conn.connect((address, port))
    conn.settimeout(120)
    data = open(path, 'rb').read()

    def send():
        try:
            conn.sendall(data)
            result["sent"] = len(data)
            conn.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported below
            result["error"] = "send: " + repr(e)

    t = threading.Thread(target=send)
    t.start()
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    t.join()
    conn.close()
    if role == 'listen':
        srv.close()
    result["received"] = n
    result["sha256"] = h.hexdigest()
except Exception as e:
    result["error"] = repr(e)
print(json.dumps(result), flush=True)
