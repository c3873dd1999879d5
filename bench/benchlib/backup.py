"""The backup shape (issue 9): checkpointfs's backup files copied with cp, against the NBD
floor (bench/backup-floor) and virtnbdbackup, on one running QEMU domain of a private libvirtd."""

import os
import random
import shutil
import subprocess
import threading
import time

from .results import BK_FLOOR, CPFS, VNB
from .servers import QEMU_DOMAIN, Libvirtd, Mount
from .util import Failure, log, run, wait_until

MIB = 1 << 20
GRAIN = 64 << 10  # extents are 64 KiB .. 4 MiB, in steps of 64 KiB (the qcow2 cluster)
QDEV = '/machine/peripheral/virtio-disk0/virtio-backend'  # vda's qdev path (alias virtio-disk0)
DOM = 'bk'
# disk size, data written before the start, data changed per incremental, repetitions
SIZES = {False: dict(disk=1024 * MIB, data=256 * MIB, inc=32 * MIB, reps=5),
         True: dict(disk=256 * MIB, data=64 * MIB, inc=8 * MIB, reps=2)}
BACKUP_XML = """<domainbackup mode='pull'>{inc}
<server transport='unix' socket='{sock}'/>
<disks><disk name='vda' backup='yes' type='file'><scratch file='{dir}/vda.scratch'/></disk></disks>
</domainbackup>
"""


def scattered(rng, disk, total):
    """[(offset, length)] of extents of 64 KiB .. 4 MiB adding up to TOTAL, at random places
    of a DISK-byte disk, none touching another's start, in offset order."""
    sizes, left = [], total
    while left:
        n = min(left, rng.randrange(1, 65) * GRAIN)
        sizes.append(n)
        left -= n
    free = (disk - total) // GRAIN
    cuts = sorted(rng.randrange(free + 1) for _ in sizes)
    out, pos, prev = [], 0, 0
    for size, cut in zip(sizes, cuts):
        pos += (cut - prev) * GRAIN
        prev = cut
        out.append((pos, size))
        pos += size
    return out


def subranges(rng, extents, total):
    """[(offset, length)] of 64 KiB .. 4 MiB pieces inside EXTENTS adding up to TOTAL: an
    incremental that changes written data, so that the disk's allocation stays the same."""
    pool = list(extents)
    rng.shuffle(pool)
    out, left = [], total
    for off, size in pool:
        if not left:
            break
        n = min(size, rng.randrange(1, 65) * GRAIN, left)
        out.append((off + rng.randrange((size - n) // GRAIN + 1) * GRAIN, n))
        left -= n
    if left:
        raise Failure('too few extents for the incremental')
    return sorted(out)


class RssSampler:
    """Samples VmRSS of PID every 5 ms in a thread between start() and stop()."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def vmrss(self):
        """VmRSS of the pid in KiB (0 when it is gone)."""
        try:
            with open(f'/proc/{self.pid}/status') as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def loop(self):
        while not self.done.is_set():
            self.peak = max(self.peak, self.vmrss())
            self.done.wait(0.005)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        """Ends sampling; returns the peak VmRSS in KiB."""
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.vmrss())
        return self.peak


def drop_all_caches():
    """Writes back, then drops the page cache, dentries and inodes."""
    os.sync()
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('3\n')


class BackupShape:
    """Measures the backup shape for Bench B (its args, scratch, results, executables)."""

    def __init__(self, b, quick):
        self.b = b
        self.n = SIZES[quick]
        self.rng = random.Random(9)  # the same extents on every run
        self.out = os.path.join(b.scratch, 'backup-out')
        os.makedirs(self.out, exist_ok=True)

    def setup(self):
        """A private libvirtd and the running domain bk on a qcow2 disk with the data written
        (by qemu-io on the image before the start: a full copy needs no dirty bitmap)."""
        n = self.n
        self.lv = lv = Libvirtd(self.b.scratch)
        self.img = os.path.join(lv.dir, 'images', f'{DOM}-vda.qcow2')
        run(lv.as_user(['qemu-img', 'create', '-q', '-f', 'qcow2', self.img, str(n['disk'])]))
        self.extents = scattered(self.rng, n['disk'], n['data'])
        cmds = []
        for off, length in self.extents:
            cmds += ['-c', f'write -P 0x5a {off} {length}']
        run(lv.as_user(['qemu-io', '-f', 'qcow2'] + cmds + [self.img]))
        xml = os.path.join(lv.dir, f'{DOM}.xml')
        with open(xml, 'w') as f:
            f.write(QEMU_DOMAIN.format(name=DOM, img=self.img))
        lv.virsh('define', xml)
        lv.virsh('start', DOM)
        self.jobdir = os.path.join(lv.dir, 'floor')  # QEMU (uid 65534) makes the socket here
        os.makedirs(self.jobdir, exist_ok=True)
        os.chown(self.jobdir, 65534, 65534)
        self.sock = os.path.join(self.jobdir, 'nbd.sock')

    def guest_write(self, seed, pattern):
        """Changes n['inc'] bytes inside the written extents through QEMU's block layer (so the
        dirty bitmaps see it, as a guest's writes), then flushes."""
        pieces = subranges(random.Random(seed), self.extents, self.n['inc'])
        cmds = [f'write -P {pattern:#x} {off} {length}' for off, length in pieces]
        for cmd in cmds + ['flush']:
            self.lv.virsh('qemu-monitor-command', DOM, '--hmp', f'qemu-io -d {QDEV} "{cmd}"')

    def no_job(self):
        """True when the domain runs no job (a lingering daemon job has ended)."""
        r = subprocess.run(['virsh', '-q', '-c', self.lv.uri, 'domjobinfo', DOM],
                           capture_output=True, text=True)
        return r.returncode == 0 and any(line.split() == ['Job', 'type:', 'None']
                                         for line in r.stdout.splitlines())

    def wait_no_job(self):
        wait_until(60, self.no_job, f'the backup job on {DOM} to end')

    def floor(self, shape, op, mode, out, incremental=None):
        """Runs bench/backup-floor once in MODE (nbdcopy, convert, dirty): records its begin
        and copy seconds under OP."""
        self.wait_no_job()
        xml = os.path.join(self.b.scratch, 'backup.xml')
        with open(xml, 'w') as f:
            inc = f'<incremental>{incremental}</incremental>' if incremental else ''
            f.write(BACKUP_XML.format(inc=inc, sock=self.sock, dir=self.jobdir))
        r = run(['/usr/bin/python3', self.b.exe['backup_floor'], self.lv.uri, DOM, xml,
                 self.sock, mode, 'vda', out], stdout=subprocess.PIPE)
        for line in r.stdout.decode().splitlines():
            kv = dict(w.split('=', 1) for w in line.split()[1:] if '=' in w)
            if kv.get('op') == 'begin':
                self.b.res.add(shape, f'{op}_begin', BK_FLOOR, 's', float(kv['seconds']))
            elif kv.get('op') == 'copy':
                self.b.res.add(shape, op, BK_FLOOR, 's', float(kv['seconds']))
                self.b.check(shape, f'floor_{op}_bytes', int(kv['bytes']))

    def cp(self, shape, op, argv, pid):
        """Times one cp from the mount, caches dropped first, the daemon's VmRSS sampled."""
        self.wait_no_job()
        drop_all_caches()
        rss = RssSampler(pid).start()
        try:
            t0 = time.perf_counter()
            run(argv)
            secs = time.perf_counter() - t0
        finally:
            peak = rss.stop()
        self.b.res.add(shape, op, CPFS, 's', secs)
        self.b.res.add(shape, 'rss_copy', CPFS, 'KiB', peak)
        self.b.check(shape, f'cpfs_{op}_size', os.path.getsize(argv[-1]))

    def compare(self, shape, what, fmt, image, raw):
        """Notes whether IMAGE (FMT) and the floor's raw copy RAW hold the same data."""
        r = subprocess.run(['qemu-img', 'compare', '-q', '-f', fmt, '-F', 'raw', image, raw])
        self.b.check(shape, f'{what}_equals_floor', r.returncode == 0)
        if r.returncode != 0:
            self.b.note(f'backup: {what} differs from the floor\'s copy (qemu-img compare '
                        f'status {r.returncode})')

    def mount(self, shape):
        """Mounts checkpointfs; returns (mount, True when it serves vda.raw)."""
        mnt = os.path.join(self.b.scratch, 'mnt-backup')
        m = Mount([self.b.exe['checkpointfs'], '-f', self.lv.uri, mnt], mnt,
                  os.path.join(self.b.scratch, 'checkpointfs-backup.log'))
        self.mnt = os.path.join(mnt, DOM)
        has = os.path.exists(os.path.join(self.mnt, 'vda.raw'))
        if not has:
            self.b.note('backup: this checkpointfs serves no vda.raw: only the floor and '
                        'virtnbdbackup were measured')
        return m, has

    def fulls(self, shape, m, has):
        """The full copies: the floor's nbdcopy, cp of vda.raw and of vda.qcow2."""
        floor_raw = os.path.join(self.out, 'floor.raw')
        for rep in range(self.n['reps']):
            self.floor(shape, 'backup_full', 'nbdcopy', floor_raw)
            self.floor(shape, 'backup_full_convert', 'convert', floor_raw)
            if not has:
                continue
            raw, qcow = os.path.join(self.out, 'vda.raw'), os.path.join(self.out, 'vda.qcow2')
            self.cp(shape, 'backup_full_raw',
                    ['cp', '--sparse=always', os.path.join(self.mnt, 'vda.raw'), raw], m.pid)
            self.cp(shape, 'backup_full_qcow2', ['cp', os.path.join(self.mnt, 'vda.qcow2'),
                                                 qcow], m.pid)
            if rep == 0:
                self.compare(shape, 'vda.raw', 'raw', raw, floor_raw)
                self.compare(shape, 'vda.qcow2', 'qcow2', qcow, floor_raw)

    def incrementals(self, shape, m, has):
        """Per repetition: a checkpoint (mkdir), n['inc'] bytes changed by the guest path, then
        the floor's dirty-extent copy and cp of the checkpoint's vda.qcow2."""
        floor_raw = os.path.join(self.out, 'floor-inc.raw')
        for rep in range(self.n['reps']):
            name = f'monday{rep}'
            os.mkdir(os.path.join(self.mnt, name))
            self.guest_write(100 + rep, 0xa0 + rep)
            self.floor(shape, 'backup_inc', 'dirty', floor_raw, incremental=name)
            if has:
                qcow = os.path.join(self.out, 'inc.qcow2')
                self.cp(shape, 'backup_inc_qcow2',
                        ['cp', os.path.join(self.mnt, name, 'vda.qcow2'), qcow], m.pid)
                if rep == 0:
                    self.compare(shape, 'monday/vda.qcow2', 'qcow2', qcow, floor_raw)
            # a new directory is made under the current checkpoint: remove this one, so that
            # every repetition's checkpoint is a root at the same path depth
            self.wait_no_job()
            os.rmdir(os.path.join(self.mnt, name))

    def virtnbdbackup(self, shape):
        """virtnbdbackup full, then n['inc'] changed, then inc, into a fresh folder each
        repetition, after every other checkpoint is gone (it refuses foreign ones)."""
        lv = self.lv
        r = run(['virsh', '-q', '-c', lv.uri, 'checkpoint-list', '--name', DOM],
                stdout=subprocess.PIPE)
        for cp in r.stdout.decode().split():
            lv.virsh('checkpoint-delete', DOM, cp)
        # virtnbdbackup asks for a password on any qemu+... URI; qemu:// takes the socket too
        uri = lv.uri.replace('qemu+unix://', 'qemu://')
        for rep in range(self.n['reps']):
            self.wait_no_job()
            out = os.path.join(self.out, 'vnb')
            shutil.rmtree(out, ignore_errors=True)
            for level in ('full', 'inc'):
                if level == 'inc':
                    self.guest_write(200 + rep, 0xc0 + rep)
                drop_all_caches()
                t0 = time.perf_counter()
                run(['virtnbdbackup', '-d', DOM, '-l', level, '-o', out, '-U', uri, '-n'])
                self.b.res.add(shape, f'backup_{level}', VNB, 's', time.perf_counter() - t0)
            data = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)
                       if f.endswith('.data'))
            self.b.check(shape, 'vnb_data_bytes', data)

    def measure(self, name, label):
        """The whole shape: setup, the mount's idle RSS, fulls, incrementals, virtnbdbackup."""
        log(f'{name}: starting libvirtd and domain {DOM} ({self.n["disk"] // MIB} MiB disk, '
            f'{self.n["data"] // MIB} MiB written)')
        self.setup()
        shape = self.b.new_shape(name, label, 1, 0, 'qemu')
        shape.update(disk=self.n['disk'], data=self.n['data'], inc=self.n['inc'],
                     extents=len(self.extents), reps=self.n['reps'])
        m, has = self.mount(shape)
        self.b.res.add(shape, 'rss_idle', CPFS, 'KiB', RssSampler(m.pid).vmrss())
        log(f'{name}: full copies, {self.n["reps"]} times')
        self.fulls(shape, m, has)
        log(f'{name}: incrementals, {self.n["reps"]} times')
        self.incrementals(shape, m, has)
        self.wait_no_job()
        m.stop()
        log(f'{name}: virtnbdbackup full and inc, {self.n["reps"]} times')
        self.virtnbdbackup(shape)
        self.lv.stop()
        self.b.finish(shape)
