#!/usr/bin/env python3
"""A fleet of N test-driver hosts served by one private libvirtd, for the
scale test (tests/qemu/q-fleet-scale.sh) and bench/run --fleet.

usage: fleet_hosts.py write HOSTS NODE SOCKET N
           writes NODE, a test-driver node with one running domain "vm" (a
           qcow2 disk), and HOSTS, a hosts file of N groups h001..hNNN, each
           uri=test+unix://NODE?socket=SOCKET
       fleet_hosts.py wait MOUNT N SECONDS
           waits until the mount's root lists N host directories and the
           user.checkpointfs.state of every one is "connected"; exits 1
           naming those that are not when SECONDS pass first
       fleet_hosts.py states MOUNT
           prints "HOST STATE" for every host directory, sorted

Every connection to a node FILE through libvirtd gets its own state, so the
hosts share nothing but the daemon.  test:///default does not do: libvirt's
test driver keeps one "default" state per process and hands it to every
connection of that URI, so through one libvirtd all /default hosts would
see each other's checkpoints.
"""
import os
import sys
import time

STATE = "user.checkpointfs.state"
DOMAIN = "vm"
NODE = """<node xmlns:test="http://libvirt.org/schemas/domain/test/1.0">
  <domain type="test">
    <name>{name}</name>
    <uuid>00000000-0000-4000-8000-000000000001</uuid>
    <memory>65536</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <devices>
      <disk type="file" device="disk">
        <driver name="qemu" type="qcow2"/>
        <source file="/guest/{name}.qcow2"/>
        <target dev="vda" bus="virtio"/>
      </disk>
    </devices>
  </domain>
</node>
"""


def host_names(n):
    """The N host names h001..hNNN, in order."""
    return ["h%03d" % i for i in range(1, n + 1)]


def write(hosts, node, sock, n):
    """Writes the node file (readable by the libvirtd's user) and the hosts file."""
    with open(node, "w") as f:
        f.write(NODE.format(name=DOMAIN))
    os.chmod(node, 0o644)
    uri = "test+unix://%s?socket=%s" % (os.path.abspath(node), sock)
    with open(hosts, "w") as f:
        f.write("# %d test-driver hosts on one libvirtd (fleet_hosts.py)\n" % n)
        for name in host_names(n):
            f.write("[%s]\nuri=%s\n" % (name, uri))


def states(mnt):
    """{host: state} of every host directory of the mount; "?ERRNO" where unreadable."""
    got = {}
    for name in sorted(os.listdir(mnt)):
        try:
            got[name] = os.getxattr(os.path.join(mnt, name), STATE).decode()
        except OSError as e:
            got[name] = "?%s" % e.strerror
    return got


def wait(mnt, n, seconds):
    """0 once N hosts are listed and all connected; 1 with a report after SECONDS.

    It asks one host at a time, the first not yet seen connected, so that the
    polling costs the daemon O(N + time) requests, not O(N x time): the bench
    times the connection with it."""
    deadline = time.monotonic() + seconds
    names, i = [], 0
    while i < n:
        if len(names) != n:
            names = sorted(os.listdir(mnt))
            ready = len(names) == n
        else:
            try:
                ready = os.getxattr(os.path.join(mnt, names[i]), STATE) == b"connected"
            except OSError:
                ready = False
            i += ready
        if ready:
            continue
        if time.monotonic() > deadline:
            got = states(mnt)
            bad = ["%s=%s" % kv for kv in got.items() if kv[1] != "connected"]
            print("%d hosts listed (want %d), %d not connected after %gs: %s"
                  % (len(got), n, len(bad), seconds, " ".join(bad[:10])), file=sys.stderr)
            return 1
        time.sleep(0.002)
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "write":
        write(args[0], args[1], args[2], int(args[3]))
        return 0
    if cmd == "wait":
        return wait(args[0], int(args[1]), float(args[2]))
    if cmd == "states":
        for name, state in states(args[0]).items():
            print(name, state)
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
