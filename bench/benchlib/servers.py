"""The servers the runner starts and stops itself: FUSE mounts and a private libvirtd."""

import os
import shutil
import signal
import subprocess

from .util import CLEANUP, Failure, is_mounted, run, wait_until

LV_USER = 65534  # the private libvirtd runs as nobody, as tests/qemu/lib-qemu.sh does


class Mount:
    """A FUSE server run in the foreground on MNT, stopped by unmounting."""

    def __init__(self, argv, mnt, logpath):
        os.makedirs(mnt, exist_ok=True)
        self.mnt = mnt
        self.logf = open(logpath, 'ab')
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT)
        self.stopped = False
        CLEANUP.push(self.stop)
        name = os.path.basename(argv[0])
        try:
            wait_until(30, lambda: self.proc.poll() is not None or is_mounted(mnt),
                       f'{name} to mount {mnt}')
        except Failure:
            raise Failure(f'{name} did not mount; see {logpath}')
        if self.proc.poll() is not None:
            raise Failure(f'{name} exited with status {self.proc.returncode} before '
                          f'mounting; see {logpath}')

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        """Unmounts (lazily if busy) and waits for the server; ends it by its pid if it hangs."""
        if self.stopped:
            return
        self.stopped = True
        if is_mounted(self.mnt):
            if subprocess.run(['fusermount3', '-u', self.mnt]).returncode != 0:
                subprocess.run(['fusermount3', '-uz', self.mnt])
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def node_xml(path, domains):
    """Writes a test-driver node with DOMAINS running domains, one qcow2 disk each."""
    with open(path, 'w') as f:
        f.write('<node xmlns:test="http://libvirt.org/schemas/domain/test/1.0">\n')
        for i in range(domains):
            f.write(f'''  <domain type="test">
    <name>dom{i:03d}</name>
    <uuid>00000000-0000-4000-8000-{i:012d}</uuid>
    <memory>65536</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <devices>
      <disk type="file" device="disk">
        <driver name="qemu" type="qcow2"/>
        <source file="/guest/dom{i:03d}.qcow2"/>
        <target dev="vda" bus="virtio"/>
      </disk>
    </devices>
  </domain>
''')
        f.write('</node>\n')


QEMU_DOMAIN = """<domain type='qemu'><name>{name}</name>
<memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='{img}'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>
"""


class Libvirtd:
    """A private libvirtd session daemon as uid 65534 in SCRATCH/libvirt."""

    def __init__(self, scratch):
        for tool in ('libvirtd', 'qemu-system-x86_64', 'qemu-img', 'virsh', 'setpriv'):
            if not shutil.which(tool):
                raise Failure(f'{tool} is not installed (scripts/deps --qemu)')
        self.dir = os.path.join(scratch, 'libvirt')
        for sub in ('config', 'cache', 'run', 'images'):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chmod(scratch, 0o755)
        for dirpath, dirnames, filenames in os.walk(self.dir):
            for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
                os.chown(name, LV_USER, LV_USER)
        self.sock = os.path.join(self.dir, 'run', 'libvirt', 'libvirt-sock')
        self.uri = f'qemu+unix:///session?socket={self.sock}'
        env = dict(os.environ, HOME=self.dir, XDG_CONFIG_HOME=os.path.join(self.dir, 'config'),
                   XDG_CACHE_HOME=os.path.join(self.dir, 'cache'),
                   XDG_RUNTIME_DIR=os.path.join(self.dir, 'run'))
        self.logf = open(os.path.join(self.dir, 'libvirtd.log'), 'ab')
        self.proc = subprocess.Popen(self.as_user(['libvirtd', '--timeout=7200']), env=env,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        CLEANUP.push(self.stop)
        wait_until(30, lambda: os.path.exists(self.sock), 'the libvirtd socket')
        wait_until(30, lambda: subprocess.run(['virsh', '-c', self.uri, 'version'],
                                              stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL).returncode == 0,
                   'libvirtd to answer')

    @staticmethod
    def as_user(argv):
        """ARGV run as the daemon's user."""
        return ['setpriv', f'--reuid={LV_USER}', f'--regid={LV_USER}', '--clear-groups'] + argv

    def virsh(self, *args, stdout=subprocess.DEVNULL):
        """Runs virsh ARGS on this daemon; raises Failure unless it succeeds."""
        return run(['virsh', '-q', '-c', self.uri] + list(args), stdout=stdout)

    def define(self, name):
        """Defines and starts a small TCG domain NAME on a fresh 64 MiB qcow2 disk."""
        img = os.path.join(self.dir, 'images', f'{name}-vda.qcow2')
        run(self.as_user(['qemu-img', 'create', '-q', '-f', 'qcow2', img, '64M']))
        xml = os.path.join(self.dir, f'{name}.xml')
        with open(xml, 'w') as f:
            f.write(QEMU_DOMAIN.format(name=name, img=img))
        self.virsh('define', xml)
        self.virsh('start', name)

    def stop(self):
        """Destroys its domains, ends the daemon and any QEMU it left behind, by pid."""
        if self.proc.poll() is None:
            r = subprocess.run(['virsh', '-q', '-c', self.uri, 'list', '--name'],
                               capture_output=True, timeout=60)
            for dom in r.stdout.decode().split():
                subprocess.run(['virsh', '-q', '-c', self.uri, 'destroy', dom],
                               capture_output=True, timeout=60)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.leftover_qemu_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.logf.close()

    def leftover_qemu_pids(self):
        """Pids of QEMU processes whose command line names this daemon's scratch folder."""
        pids = []
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmd = f.read()
            except OSError:
                continue
            if b'qemu-system' in cmd and self.dir.encode() in cmd:
                pids.append(int(pid))
        return pids
