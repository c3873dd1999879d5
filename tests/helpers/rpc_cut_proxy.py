#!/usr/bin/env python3
"""A unix-socket proxy in front of libvirtd that cuts one connection at a
chosen moment: right after it forwarded libvirtd's reply to the first
request whose body holds TRIGGER (for instance "<name>c1</name>", which
only the create request of checkpoint c1 carries).  Both sides of that
connection are then closed, as a libvirtd killed just after answering
would leave them; later connections are forwarded untouched.

usage: rpc_cut_proxy.py LISTEN_SOCKET LIBVIRTD_SOCKET TRIGGER CUT_FILE [--before] [--proc N]
--before: cut instead of forwarding that reply (libvirtd did the work, the
client never hears of it).  --proc N: only a request of procedure N counts
(libvirt 9.0: checkpoint create 411, get XML 412, delete 417).  It writes CUT_FILE once the cut happened, and ends with its parent.  libvirt's RPC messages start
with a 4-byte big-endian length (header included) and a header of six
4-byte fields: program, version, procedure, type, serial, status.
"""
import os
import socket
import struct
import sys
import threading

state = {"cut": False}
options = {"before": False, "proc": None}


def read_message(sock):
    """One whole RPC message, or None at end of file."""
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    length = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < length - 4:
        chunk = sock.recv(length - 4 - len(body))
        if not chunk:
            return None
        body += chunk
    return head + body


def serial_of(message):
    return struct.unpack(">I", message[20:24])[0]


def proc_of(message):
    return struct.unpack(">I", message[12:16])[0]


def matches(message, trigger):
    if options["proc"] is not None and proc_of(message) != options["proc"]:
        return False
    return trigger in message


def serve(client, trigger, target, cut_file):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.connect(target)
    watched = {}  # serials of requests that carried the trigger

    def downstream():
        while True:
            message = read_message(server)
            if message is None:
                break
            hit = serial_of(message) in watched and not state["cut"]
            if not (hit and options["before"]):
                client.sendall(message)
            if hit:
                state["cut"] = True
                open(cut_file, "w").close()
                break
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    thread = threading.Thread(target=downstream, daemon=True)
    thread.start()
    try:
        while True:
            message = read_message(client)
            if message is None:
                break
            if os.environ.get("RPC_PROXY_LOG"):
                print("request proc %d%s" % (proc_of(message), " *" if trigger in message
                                             else ""), file=sys.stderr, flush=True)
            if not state["cut"] and matches(message, trigger):
                watched[serial_of(message)] = True
            server.sendall(message)
    except OSError:
        pass
    try:
        server.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    thread.join()
    client.close()
    server.close()


def exit_with_parent():
    """Ends the proxy once the test that started it is gone."""
    parent = os.getppid()
    while os.getppid() == parent:
        threading.Event().wait(0.2)
    os._exit(0)


def main():
    listen, target, trigger, cut_file = sys.argv[1:5]
    rest = sys.argv[5:]
    options["before"] = "--before" in rest
    if "--proc" in rest:
        options["proc"] = int(rest[rest.index("--proc") + 1])
    threading.Thread(target=exit_with_parent, daemon=True).start()
    if os.path.exists(listen):
        os.unlink(listen)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(listen)
    sock.listen(16)
    while True:
        client, _ = sock.accept()
        threading.Thread(target=serve, args=(client, trigger.encode(), target, cut_file),
                         daemon=True).start()


if __name__ == "__main__":
    main()
