#!/usr/bin/env python3
"""A unix-socket proxy in front of libvirtd that cuts one connection at a
chosen moment: right after it forwarded libvirtd's reply to the first
request whose body holds TRIGGER (for instance "<name>c1</name>", which
only the create request of checkpoint c1 carries).  Both sides of that
connection are then closed, as a libvirtd killed just after answering
would leave them; later connections are forwarded untouched.

usage: rpc_cut_proxy.py LISTEN_SOCKET LIBVIRTD_SOCKET TRIGGER CUT_FILE
It writes CUT_FILE once the cut happened, and ends with its parent.  libvirt's RPC messages start
with a 4-byte big-endian length (header included) and a header of six
4-byte fields: program, version, procedure, type, serial, status.
"""
import os
import socket
import struct
import sys
import threading

armed = threading.Lock()  # held by the connection that will be cut
state = {"cut": False}


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


def serve(client, trigger, target, cut_file):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.connect(target)
    watched = {}  # serials of requests that carried the trigger

    def downstream():
        while True:
            message = read_message(server)
            if message is None:
                break
            client.sendall(message)
            if serial_of(message) in watched and not state["cut"]:
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
            if not state["cut"] and trigger in message:
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
