"""The results.json format: a run's description, its shapes, and one record per measurement.

{
  "format": "checkpointfs-bench/2",
  "run": {"date": ISO 8601 UTC of the run's end, "seconds": total, "quick": bool,
          "reps": walks/stats/reads per mount, "create_reps": mounts per shape,
          "cache_timeout": seconds, "machine": one line, "notes": [lines]},
  "shapes": [{"name": "wide-10k", "label": "wide 100x100", "domains", "per_domain",
              "checkpoints", "driver": "test" | "qemu", "date": ISO 8601 UTC of its start,
              "seconds", "load_before", "load_after",
              "checks": {what: [distinct values seen]},
              the backup shape also: "disk", "data", "inc" (bytes), "extents", "reps";
              a fleet shape ("fleet-N", N hosts as "domains", checkpoints per host as
              "per_domain") also "mounts"}],
  "records": [{"shape": a shape's name, "operation": see OPERATIONS,
               "subject": one of SUBJECTS, "value": the median of "samples",
               "unit": "s" | "calls" | "KiB", "repetitions": len(samples), "samples": [...],
               "machine": the run's machine line, "date": the shape's date}]
}

Renderers read "value"; "samples" keeps what each repetition measured.
"""

import datetime
import json
import os
import statistics

FORMAT = 'checkpointfs-bench/2'

CPFS, LV_FLOOR, FUSE_FLOOR, VIRSH = 'checkpointfs', 'libvirt floor', 'FUSE floor', 'virsh loop'
BK_FLOOR, VNB = 'NBD floor', 'virtnbdbackup'  # the backup shape's (benchlib/backup.py)
SUBJECTS = (CPFS, LV_FLOOR, FUSE_FLOOR, VIRSH, BK_FLOOR, VNB)

# Operations measured on a mount (checkpointfs and the FUSE floor), in seconds
# and, for checkpointfs, in libvirt calls; the libvirt floor's steps (create,
# list, read, delete); memory at the end of a mount; the virsh loop.
TREE_OPS = ('create', 'walk_cold', 'walk_warm', 'stat_cold', 'stat_warm', 'read_cold',
            'read_warm')
FLOOR_STEPS = ('create', 'list', 'read', 'delete')
MEMORY = ('rss_peak', 'rss_anon_end', 'rss_file_end')
# The backup shape: cp of vda.raw, vda.qcow2 and monday/vda.qcow2 (checkpointfs); the NBD
# floor's full copies (nbdcopy; qemu-img convert), dirty-extent copies and job begins;
# virtnbdbackup full and inc; the daemon's VmRSS idle and its peak during each cp.
BACKUP_OPS = ('backup_full_raw', 'backup_full_qcow2', 'backup_inc_qcow2', 'backup_full',
              'backup_full_convert', 'backup_inc', 'backup_full_begin',
              'backup_full_convert_begin', 'backup_inc_begin', 'rss_idle', 'rss_copy')
# The fleet shape (issue 10): mount until every host is connected; the daemon's VmRSS then
# and at the end; fusermount3 -u until the daemon exits; the floor's opening of N connections.
FLEET_OPS = ('mount_connected', 'rss_connected', 'rss_end', 'unmount', 'open')
OPERATIONS = set(TREE_OPS + FLOOR_STEPS + MEMORY + BACKUP_OPS + FLEET_OPS + ('read_all',))
UNITS = ('s', 'calls', 'KiB')


class BadResults(Exception):
    """The file is not a results.json this module can read; the message says why."""


def iso_utc(epoch):
    """EPOCH seconds as ISO 8601 UTC to the second."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


class Results:
    """A run's description, shapes and records, with lookups by what was measured."""

    def __init__(self, run, shapes=None, records=None):
        self.run = run
        self.shapes = shapes or []
        self.records = records or []
        self._index = {self._key(r): r for r in self.records}

    @staticmethod
    def _key(r):
        """What identifies record R: shape, operation, subject, unit."""
        return (r['shape'], r['operation'], r['subject'], r['unit'])

    def add(self, shape, operation, subject, unit, sample):
        """Adds one repetition's SAMPLE to its record (made on first use); None is no sample."""
        if sample is None:
            return
        assert operation in OPERATIONS and subject in SUBJECTS and unit in UNITS
        key = (shape['name'], operation, subject, unit)
        rec = self._index.get(key)
        if rec is None:
            rec = {'shape': shape['name'], 'operation': operation, 'subject': subject,
                   'value': None, 'unit': unit, 'repetitions': 0, 'samples': [],
                   'machine': self.run['machine'], 'date': shape['date']}
            self._index[key] = rec
            self.records.append(rec)
        rec['samples'].append(sample)
        rec['repetitions'] = len(rec['samples'])
        rec['value'] = statistics.median(rec['samples'])

    def value(self, shape, operation, subject, unit='s'):
        """The median measured for SHAPE (a name), or None when nothing was."""
        rec = self._index.get((shape, operation, subject, unit))
        return rec['value'] if rec else None

    def samples(self, shape, operation, subject, unit='s'):
        """Every sample measured for SHAPE (a name), [] when nothing was."""
        rec = self._index.get((shape, operation, subject, unit))
        return rec['samples'] if rec else []

    def shape(self, name):
        """The shape named NAME, or None."""
        return next((s for s in self.shapes if s['name'] == name), None)

    def save(self, path):
        """Writes the results to PATH (through a temporary file, so a reader never sees half)."""
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            f.write(self.dumps())
        os.replace(tmp, path)

    def dumps(self):
        """The JSON text, one record a line so that a diff shows which measurements changed."""
        head = json.dumps({'format': FORMAT, 'run': self.run, 'shapes': self.shapes}, indent=1)
        recs = ',\n'.join('  ' + json.dumps(r) for r in self.records)
        return f'{head[:-2]},\n "records": [\n{recs}\n ]\n}}\n'


def load(path):
    """The Results in PATH; raises BadResults naming what is wrong."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise BadResults(f'{path}: {e}')
    if not isinstance(data, dict):
        raise BadResults(f'{path}: not a JSON object')
    if data.get('format') != FORMAT:
        if 'results' in data and 'args' in data:
            raise BadResults(f'{path} was written by the old runner; convert it once with '
                             f'bench/report --upgrade {path}')
        raise BadResults(f'{path}: format is {data.get("format")!r}, not {FORMAT!r}')
    for key in ('run', 'shapes', 'records'):
        if key not in data:
            raise BadResults(f'{path}: no "{key}"')
    for r in data['records']:
        missing = {'shape', 'operation', 'subject', 'value', 'unit'} - set(r)
        if missing:
            raise BadResults(f'{path}: a record lacks {", ".join(sorted(missing))}: {r}')
    return Results(data['run'], data['shapes'], data['records'])
