"""A stand-in for the system logger: receives syslog(3) datagrams on a unix
socket and appends each one as a line to a file.

usage: syslog_sink.py SOCKET OUTFILE

Creates SOCKET (which must not exist), then serves until killed.  The test
that starts it waits for SOCKET to appear and kills it by its pid.
"""
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    with open(out, "ab", buffering=0) as f:
        while True:
            data = sock.recv(65536)
            f.write(data.rstrip(b"\0\n").replace(b"\n", b" ") + b"\n")


if __name__ == "__main__":
    main()
