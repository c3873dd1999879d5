"""Processes, waiting, cleanup and /proc readings shared by the runner's modules."""

import os
import platform
import subprocess
import sys
import time


class Failure(Exception):
    """A step of the run failed; the message says which and why."""


def log(msg):
    """Prints MSG with the time of day on stderr."""
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


def wait_until(seconds, pred, what):
    """Polls PRED until true; raises Failure when SECONDS pass first."""
    deadline = time.monotonic() + seconds
    while not pred():
        if time.monotonic() > deadline:
            raise Failure(f'timed out after {seconds}s waiting for {what}')
        time.sleep(0.02)


def run(argv, stdout=subprocess.DEVNULL, timeout=7200, env=None):
    """Runs ARGV to completion; raises Failure with its stderr's tail unless it exits 0."""
    r = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout, env=env)
    if r.returncode != 0:
        raise Failure(f'{" ".join(argv)[:200]} failed ({r.returncode}): '
                      f'{r.stderr.decode(errors="replace").strip()[-500:]}')
    return r


def timed(argv, outpath=None, env=None):
    """Runs ARGV, its output to OUTPATH (or discarded); returns its wall-clock seconds."""
    out = open(outpath, 'wb') if outpath else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        run(argv, stdout=out, env=env)
        return time.perf_counter() - t0
    finally:
        if outpath:
            out.close()


def is_mounted(path):
    """True when PATH is a mount point."""
    return subprocess.run(['mountpoint', '-q', path]).returncode == 0


def count_lines(path):
    """The number of lines in the file at PATH."""
    with open(path, 'rb') as f:
        return sum(1 for _ in f)


def parse_kv(line):
    """The key=value words of LINE after its first word, as a dict."""
    return dict(kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)


def loadavg():
    """The 1, 5 and 15 minute load averages, as /proc/loadavg writes them."""
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def status_kib(pid, keys=('VmHWM', 'RssAnon', 'RssFile')):
    """KEYS of PID's /proc status as numbers (KiB for the memory ones; absent
    keys when PID is gone)."""
    got = {}
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                key = line.split(':')[0]
                if key in keys:
                    got[key] = int(line.split()[1])
    except OSError:
        pass
    return got


def drop_caches():
    """Drops the kernel's dentries and inodes (not the page cache of other files)."""
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('2\n')


class Cleanup:
    """Undo actions, run last-in first-out on exit, whatever the exit."""

    def __init__(self):
        self.actions = []

    def push(self, fn, *args):
        """Registers FN(*ARGS) to run at exit."""
        self.actions.append((fn, args))

    def run(self):
        """Runs every registered action, newest first; an action's failure is logged."""
        while self.actions:
            fn, args = self.actions.pop()
            try:
                fn(*args)
            except Exception as e:  # keep cleaning up
                log(f'cleanup: {e}')


CLEANUP = Cleanup()


def machine_info():
    """One line naming the host, CPU, RAM, kernel and the libvirt, libfuse and QEMU versions."""
    cpu = 'unknown'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo') as f:
        mem = int(f.readline().split()[1]) // 1024

    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
        except OSError:
            return '?'
    lv = version(['pkg-config', '--modversion', 'libvirt'])
    fuse = version(['pkg-config', '--modversion', 'fuse3'])
    qemu = version(['qemu-system-x86_64', '--version']).split('\n')[0].replace(
        'QEMU emulator version ', '')
    return (f'{platform.node()}: {cpu}, {os.cpu_count()} CPUs, {mem} MiB RAM, '
            f'Linux {platform.release()}, libvirt {lv}, libfuse {fuse}, QEMU {qemu}')
