"""What the runner measures on each shape: checkpointfs, the libvirt floor, the FUSE floor and,
on QEMU, the virsh loop; every sample goes into a Results as it is taken."""

import os
import subprocess
import time

from .backup import BackupShape
from .fleet import FleetShape
from .results import CPFS, FUSE_FLOOR, LV_FLOOR, VIRSH, iso_utc
from .servers import Libvirtd, Mount, node_xml
from .util import count_lines, drop_caches, loadavg, log, parse_kv, run, status_kib, timed

XATTR_CALLS = 'user.checkpointfs.libvirt_calls'
# today's practice on QEMU: one virsh per checkpoint
VIRSH_LOOP = ('for d in $(virsh -q -c "$URI" list --name); do '
              'for c in $(virsh -q -c "$URI" checkpoint-list --name "$d"); do '
              'virsh -q -c "$URI" checkpoint-dumpxml "$d" "$c"; done; done')


class Bench:
    """Measures shapes into RES with the executables in EXE (checkpointfs, libvirt_floor,
    fuse_floor, treeops), scratch files in SCRATCH, options in ARGS."""

    def __init__(self, args, scratch, res, exe):
        self.args = args
        self.scratch = scratch
        self.res = res
        self.exe = exe
        self.ttl = args.cache_timeout / 2  # daemon's listing TTL = kernel timeouts
        self.checks = {}  # shape name -> {what: set of values seen}
        self.started = {}  # shape name -> time.monotonic() at its start

    def check(self, shape, what, value):
        """Notes VALUE among those seen for WHAT on SHAPE (entries walked, bytes read)."""
        self.checks.setdefault(shape['name'], {}).setdefault(what, set()).add(value)

    def note(self, text):
        """Adds TEXT to the run's notes, once."""
        if text not in self.res.run['notes']:
            self.res.run['notes'].append(text)

    def timed_op(self, shape, subject, name, argv, mnt, cold, outpath=None):
        """Times one walk, stat or read on MNT; cold ones after the daemon's listing aged out
        and the kernel's dentries and inodes were dropped. Returns seconds."""
        is_cpfs = subject == CPFS
        if cold:
            if is_cpfs:
                # the daemon trusts a listing for cache_timeout/2
                wait = self.last_end + self.ttl + 0.25 - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            drop_caches()
        c0 = int(os.getxattr(mnt, XATTR_CALLS)) if is_cpfs else 0
        secs = timed(argv, outpath)
        self.last_end = time.monotonic()
        self.res.add(shape, name, subject, 's', secs)
        if is_cpfs:
            self.res.add(shape, name, subject, 'calls', int(os.getxattr(mnt, XATTR_CALLS)) - c0)
        return secs

    def tree_ops(self, shape, subject, mnt):
        """The cold and warm walks, stats and reads of MNT, REPS times each."""
        out = os.path.join(self.scratch, 'out')
        side = 'cpfs' if subject == CPFS else 'fuse'
        walk = ['find', mnt]
        stat = ['find', mnt, '-printf', '%s %T@ %n\\n']
        read = [self.exe['treeops'], 'read', mnt]
        self.last_end = time.monotonic()
        for _ in range(self.args.reps):
            for what, argv in (('walk', walk), ('stat', stat), ('read', read)):
                cold = self.timed_op(shape, subject, f'{what}_cold', argv, mnt, True, out)
                if what == 'walk':
                    self.check(shape, f'{side}_walk', count_lines(out))
                elif what == 'read':
                    with open(out) as f:
                        self.check(shape, f'{side}_read', f.read().strip())
                warm = self.timed_op(shape, subject, f'{what}_warm', argv, mnt, False)
                if cold + warm > self.ttl:
                    self.note(f'{shape["name"]}: {side} warm {what} ended {cold + warm:.1f}s '
                              f'after its cold run began, past the {self.ttl:g}s kernel '
                              f'timeout: not all warm')

    def lv_floor(self, shape, uri, per_domain, shape_file, delete=False):
        """Runs the libvirt floor on URI: create, list and read (and delete) steps, its RSS."""
        argv = [self.exe['libvirt_floor'], '--create', str(per_domain),
                '--repeat', str(self.args.reps), '--shape', shape_file]
        if delete:
            argv.append('--delete')
        r = run(argv + [uri], stdout=subprocess.PIPE)
        for line in r.stdout.decode().splitlines():
            kv = parse_kv(line)
            step = kv.get('op')
            if step == 'rss':
                self.res.add(shape, 'rss_peak', LV_FLOOR, 'KiB', int(kv['vmhwm_kib']))
                self.res.add(shape, 'rss_anon_end', LV_FLOOR, 'KiB', int(kv['rss_anon_kib']))
                self.res.add(shape, 'rss_file_end', LV_FLOOR, 'KiB', int(kv['rss_file_kib']))
            elif step in ('create', 'list', 'read', 'delete'):
                self.res.add(shape, step, LV_FLOOR, 's', float(kv['seconds']))
                self.res.add(shape, step, LV_FLOOR, 'calls', int(kv['calls']))
                if step == 'read':
                    self.check(shape, 'lv_read', f'files={kv["files"]} bytes={kv["bytes"]}')

    def create_all(self, shape, subject, mnt, per_domain):
        """Times creating every checkpoint of SHAPE by mkdir on MNT."""
        is_cpfs = subject == CPFS
        c0 = int(os.getxattr(mnt, XATTR_CALLS)) if is_cpfs else 0
        secs = timed([self.exe['treeops'], 'mkchain', mnt, str(per_domain)])
        self.res.add(shape, 'create', subject, 's', secs)
        if is_cpfs:
            self.res.add(shape, 'create', subject, 'calls', int(os.getxattr(mnt, XATTR_CALLS)) - c0)

    def cpfs_side(self, shape, uri, per_domain):
        """Mounts checkpointfs on URI, creates all, walks, stats and reads; its memory."""
        tag = shape['name']
        mnt = os.path.join(self.scratch, f'mnt-{tag}')
        m = Mount([self.exe['checkpointfs'], '-f', '-o',
                   f'cache_timeout={self.args.cache_timeout:g}', uri, mnt],
                  mnt, os.path.join(self.scratch, f'checkpointfs-{tag}.log'))
        self.create_all(shape, CPFS, mnt, per_domain)
        self.tree_ops(shape, CPFS, mnt)
        st = status_kib(m.pid)
        self.res.add(shape, 'rss_peak', CPFS, 'KiB', st.get('VmHWM'))
        self.res.add(shape, 'rss_anon_end', CPFS, 'KiB', st.get('RssAnon'))
        self.res.add(shape, 'rss_file_end', CPFS, 'KiB', st.get('RssFile'))
        m.stop()

    def fuse_side(self, shape, shape_file, per_domain):
        """Mounts the FUSE floor serving SHAPE_FILE and measures what cpfs_side does."""
        tag = shape['name']
        mnt = os.path.join(self.scratch, f'mnt-{tag}-floor')
        m = Mount([self.exe['fuse_floor'], '-f', '-o',
                   f'shape={shape_file},cache_timeout={self.args.cache_timeout:g},hidden', mnt],
                  mnt, os.path.join(self.scratch, f'fuse-floor-{tag}.log'))
        self.create_all(shape, FUSE_FLOOR, mnt, per_domain)
        self.tree_ops(shape, FUSE_FLOOR, mnt)
        self.res.add(shape, 'rss_peak', FUSE_FLOOR, 'KiB', status_kib(m.pid).get('VmHWM'))
        m.stop()

    def new_shape(self, name, label, domains, per_domain, driver):
        """Adds shape NAME to the results; returns it."""
        shape = {'name': name, 'label': label, 'domains': domains, 'per_domain': per_domain,
                 'checkpoints': domains * per_domain, 'driver': driver,
                 'date': iso_utc(time.time()), 'seconds': None,
                 'load_before': loadavg(), 'load_after': None, 'checks': {}}
        self.started[name] = time.monotonic()
        self.res.shapes.append(shape)
        return shape

    def finish(self, shape):
        """Completes SHAPE: load after, duration, the checks (and notes where they differ)."""
        shape['load_after'] = loadavg()
        shape['seconds'] = time.monotonic() - self.started[shape['name']]
        checks = self.checks.get(shape['name'], {})
        if len(checks.get('cpfs_walk', set()) | checks.get('fuse_walk', set())) > 1:
            self.note(f'{shape["name"]}: walk entry counts differ: {checks}')
        reads = checks.get('cpfs_read', set()) | checks.get('fuse_read', set())
        if len({r.split()[0] for r in reads}) > 1:
            self.note(f'{shape["name"]}: read file counts differ: {sorted(reads)}')
        shape['checks'] = {k: sorted(v) for k, v in checks.items()}
        log(f'{shape["name"]}: done in {shape["seconds"]:.0f}s (load {shape["load_before"]} '
            f'-> {shape["load_after"]})')

    def test_shape(self, name, label, domains, per_domain):
        """A test-driver node of DOMAINS domains, PER_DOMAIN chained checkpoints each."""
        shape = self.new_shape(name, label, domains, per_domain, 'test')
        node = os.path.join(self.scratch, f'node-{name}.xml')
        node_xml(node, domains)
        uri = f'test://{node}'
        for rep in range(self.args.create_reps):
            shape_file = os.path.join(self.scratch, f'shape-{name}')
            log(f'{name}: libvirt floor, {domains} x {per_domain} (round {rep + 1})')
            self.lv_floor(shape, uri, per_domain, shape_file)
            log(f'{name}: checkpointfs')
            self.cpfs_side(shape, uri, per_domain)
            log(f'{name}: FUSE floor')
            self.fuse_side(shape, shape_file, per_domain)
        self.finish(shape)

    def virsh_loop(self, shape, uri):
        """Times reading every checkpoint's XML with one virsh per checkpoint."""
        out = os.path.join(self.scratch, 'virsh-out')
        secs = timed(['sh', '-c', VIRSH_LOOP], out, env=dict(os.environ, URI=uri))
        self.res.add(shape, 'read_all', VIRSH, 's', secs)
        self.check(shape, 'virsh_bytes', os.path.getsize(out))

    def qemu_shape(self, name, label, domains, per_domain):
        """DOMAINS running QEMU domains on a private libvirtd, PER_DOMAIN checkpoints each."""
        log(f'{name}: starting libvirtd and {domains} QEMU domains')
        lv = Libvirtd(self.scratch)
        for i in range(domains):
            lv.define(f'q{i}')
        shape = self.new_shape(name, label, domains, per_domain, 'qemu')
        for rep in range(self.args.create_reps):
            shape_file = os.path.join(self.scratch, f'shape-{name}')
            log(f'{name}: libvirt floor, {domains} x {per_domain} (round {rep + 1})')
            self.lv_floor(shape, lv.uri, per_domain, shape_file, delete=True)
            log(f'{name}: checkpointfs')
            self.cpfs_side(shape, lv.uri, per_domain)
            log(f'{name}: virsh loop')
            self.virsh_loop(shape, lv.uri)
            # the mount's checkpoints go, so the next round starts empty
            run([self.exe['libvirt_floor'], '--delete', lv.uri])
            log(f'{name}: FUSE floor')
            self.fuse_side(shape, shape_file, per_domain)
        lv.stop()
        self.finish(shape)

    def backup_shape(self, name, label, *_):
        """Backup files copied with cp against the NBD floor and virtnbdbackup (backup.py)."""
        BackupShape(self, self.args.quick).measure(name, label)

    def fleet_shape(self, name, label, *_):
        """One mount over 0, 10 and 100 test-driver hosts of one libvirtd, per host (fleet.py)."""
        FleetShape(self, self.args.quick).measure(name, label)
