"""The fleet shape (issue 10): one mount of a hosts file of N test-driver hosts, all
connections to one private libvirtd, at N = 0, 10 and 100; what each costs per host.

Each host is `test+unix:///NODE.xml?socket=...` (tests/helpers/fleet_hosts.py writes the
node and the hosts file): through libvirtd every connection to a node file holds its own
state, one running domain `vm`.  Per mount: the time from starting the daemon until every
host's user.checkpointfs.state is `connected`; PER checkpoints created in every host
(bench/treeops mkchain, one process per host); then REPS times a cold and a warm walk
(`find MNT`) and a cold and a warm read of every xml (bench/treeops read); the daemon's
VmRSS once connected, its VmRSS and VmHWM at the end, its threads; libvirt calls (the root's
user.checkpointfs.libvirt_calls, the sum over hosts) around each; the time from fusermount3
-u until the daemon exits, and what its log says meanwhile.  Then CONNECTS more mounts that
only connect and unmount (more samples of the quick mount), and the libvirt floor
(bench/fleet-floor): N plain connections to the same libvirtd open at once, the same
checkpoints made, every domain, checkpoint and parent listed and every XML read.  The
rounds of the three sizes take turns (0, 10, 100, 0, 10, 100, ...), so a change of the
machine's load touches every size alike.  The empty fleet (N = 0) is the fixed cost the
table takes off before dividing by N.
"""

import importlib.util
import os
import subprocess
import time

from .results import CPFS, LV_FLOOR
from .servers import Libvirtd, Mount
from .util import Failure, count_lines, loadavg, log, parse_kv, run, status_kib, timed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XATTR_CALLS = 'user.checkpointfs.libvirt_calls'
# hosts per mount, checkpoints per host, mounts per size (each creating its checkpoints),
# mounts per round that only connect (more samples of the mount, which is quick)
SIZES = {False: dict(hosts=(0, 10, 100), per=5, mounts=3, connects=4),
         True: dict(hosts=(0, 10, 100), per=2, mounts=1, connects=1)}


def fleet_hosts():
    """tests/helpers/fleet_hosts.py as a module (the scale test's hosts file writer)."""
    path = os.path.join(ROOT, 'tests', 'helpers', 'fleet_hosts.py')
    spec = importlib.util.spec_from_file_location('fleet_hosts', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def proc_status(pid):
    """VmRSS, VmHWM (KiB) and Threads of PID ({} when it is gone)."""
    return status_kib(pid, ('VmRSS', 'VmHWM', 'Threads'))


class FleetShape:
    """Measures the fleet sizes for Bench B (its args, scratch, results, executables)."""

    def __init__(self, b, quick):
        self.b = b
        self.n = SIZES[quick]
        self.fh = fleet_hosts()
        self.shapes = {}

    def calls(self, mnt):
        """The root's libvirt call count (the sum over the hosts)."""
        return int(os.getxattr(mnt, XATTR_CALLS))

    def connect(self, hosts):
        """Mounts the fleet of HOSTS hosts; records the time until every host is connected
        (tests/helpers/fleet_hosts.py wait: one host asked at a time), the calls, the
        daemon's VmRSS and threads then.  Returns the Mount."""
        b, shape = self.b, self.shapes[hosts]
        conf = os.path.join(b.scratch, f'fleet-{hosts}.conf')
        self.fh.write(conf, os.path.join(b.scratch, 'fleet-node.xml'), self.lv.sock, hosts)
        mnt = os.path.join(b.scratch, f'mnt-fleet-{hosts}')
        logpath = os.path.join(b.scratch, f'checkpointfs-fleet-{hosts}.log')
        self.log_at = os.path.getsize(logpath) if os.path.exists(logpath) else 0
        t0 = time.perf_counter()
        m = Mount([b.exe['checkpointfs'], '-f', '-o', f'cache_timeout={b.args.cache_timeout:g}',
                   conf, mnt], mnt, logpath)
        if self.fh.wait(mnt, hosts, 120) != 0:
            raise Failure(f'fleet {hosts}: not every host connected within 120 s')
        b.res.add(shape, 'mount_connected', CPFS, 's', time.perf_counter() - t0)
        b.res.add(shape, 'mount_connected', CPFS, 'calls', self.calls(mnt))
        st = proc_status(m.pid)
        b.res.add(shape, 'rss_connected', CPFS, 'KiB', st.get('VmRSS'))
        b.check(shape, 'threads_connected', st.get('Threads'))
        return m

    def one_mount(self, hosts, rnd):
        """Mounts a fleet of HOSTS hosts and measures it into its shape; then CONNECTS more
        mounts that only connect and unmount."""
        b, shape, per = self.b, self.shapes[hosts], self.n['per']
        b.check(shape, 'load', loadavg())
        m = self.connect(hosts)
        mnt = m.mnt
        c0 = self.calls(mnt)
        t1 = time.perf_counter()
        for h in self.fh.host_names(hosts):
            timed([b.exe['treeops'], 'mkchain', os.path.join(mnt, h), str(per)])
        b.res.add(shape, 'create', CPFS, 's', time.perf_counter() - t1)
        b.res.add(shape, 'create', CPFS, 'calls', self.calls(mnt) - c0)
        self.walks(shape, mnt)
        st, kib = proc_status(m.pid), status_kib(m.pid)
        b.res.add(shape, 'rss_end', CPFS, 'KiB', st.get('VmRSS'))
        b.res.add(shape, 'rss_peak', CPFS, 'KiB', st.get('VmHWM'))
        b.res.add(shape, 'rss_anon_end', CPFS, 'KiB', kib.get('RssAnon'))
        b.check(shape, 'threads_end', st.get('Threads'))
        self.unmount(shape, m)
        for _ in range(self.n['connects']):
            self.unmount(shape, self.connect(hosts))
        if hosts:
            self.floor(shape, hosts)
        got = b.res.samples(shape['name'], 'mount_connected', CPFS)[-1 - self.n['connects']:]
        log(f'fleet {hosts} hosts, round {rnd + 1}: connected in '
            f'{" ".join(f"{x:.3f}" for x in got)} s')

    def floor(self, shape, hosts):
        """Runs bench/fleet-floor: N plain libvirt connections doing what the mount did."""
        b = self.b
        uri = f'test+unix://{os.path.join(b.scratch, "fleet-node.xml")}?socket={self.lv.sock}'
        r = run(['/usr/bin/python3', b.exe['fleet_floor'], uri, str(hosts), str(self.n['per']),
                 str(b.args.reps)], stdout=subprocess.PIPE)
        for line in r.stdout.decode().splitlines():
            kv = parse_kv(line)
            if kv.get('op') == 'rss':
                b.check(shape, 'floor_threads', int(kv['threads']))
            elif kv.get('op') in ('open', 'create', 'list', 'read'):
                b.res.add(shape, kv['op'], LV_FLOOR, 's', float(kv['seconds']))
                b.res.add(shape, kv['op'], LV_FLOOR, 'calls', int(kv['calls']))

    def unmount(self, shape, m):
        """Times fusermount3 -u until the daemon exits (up to 300 s); notes its log's errors
        and the libvirt threads that did not stop."""
        t0 = time.perf_counter()
        run(['fusermount3', '-u', m.mnt])
        try:
            m.proc.wait(timeout=300)
            self.b.res.add(shape, 'unmount', CPFS, 's', time.perf_counter() - t0)
        except subprocess.TimeoutExpired:
            self.b.note(f'{shape["name"]}: the daemon had not exited 300 s after the unmount')
        m.stop()
        with open(m.logf.name, errors='replace') as f:
            text = f.read()[self.log_at:]
        self.b.check(shape, 'log_errors', text.count(': error: '))
        self.b.check(shape, 'threads_not_stopped', text.count('did not stop'))

    def walks(self, shape, mnt):
        """The cold and warm walks and reads of MNT, REPS times each, their entries checked."""
        b = self.b
        out = os.path.join(b.scratch, 'out')
        b.last_end = time.monotonic()
        for _ in range(b.args.reps):
            for what, argv in (('walk', ['find', mnt]), ('read', [b.exe['treeops'], 'read', mnt])):
                cold = b.timed_op(shape, CPFS, f'{what}_cold', argv, mnt, True, out)
                if what == 'walk':
                    b.check(shape, 'cpfs_walk', count_lines(out))
                else:
                    with open(out) as f:
                        b.check(shape, 'cpfs_read', f.read().strip())
                warm = b.timed_op(shape, CPFS, f'{what}_warm', argv, mnt, False)
                if cold + warm > b.ttl:
                    b.note(f'{shape["name"]}: warm {what} ended {cold + warm:.1f}s after its '
                           f'cold run began, past the {b.ttl:g}s kernel timeout: not all warm')

    def isolated(self):
        """Notes where a walk listed other than each host's own entries (counts)."""
        for hosts, shape in self.shapes.items():
            want = 1 + hosts * (3 + 2 * self.n['per'])  # root; host, vm, vm/xml; dir+xml each
            seen = self.b.checks.get(shape['name'], {}).get('cpfs_walk', set())
            if seen != {want}:
                self.b.note(f'{shape["name"]}: find listed {sorted(seen)} entries, '
                            f'want {want}')

    def measure(self, name, label):
        """Every size, mounts taking turns; a private libvirtd for all of them."""
        n = self.n
        log(f'fleet: starting libvirtd; hosts {n["hosts"]}, {n["per"]} checkpoints each, '
            f'{n["mounts"]} mounts per size')
        self.lv = Libvirtd(self.b.scratch)
        for hosts in n['hosts']:
            shape = self.b.new_shape(f'fleet-{hosts}', f'fleet {hosts} hosts', hosts,
                                     n['per'], 'test')
            shape['mounts'] = n['mounts']
            self.shapes[hosts] = shape
        for rnd in range(n['mounts']):
            for hosts in n['hosts']:
                self.one_mount(hosts, rnd)
        self.isolated()
        self.lv.stop()
        for shape in self.shapes.values():
            self.b.finish(shape)
