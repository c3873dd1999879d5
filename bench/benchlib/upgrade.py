"""The one-time conversion of a results.json written by the old runner (one dict of sample
lists per shape) into records.  The old file holds neither the machine nor the run's total
time: they are taken from the header of the results.txt that run wrote next to it."""

import json
import re

from .results import CPFS, FUSE_FLOOR, LV_FLOOR, VIRSH, BadResults, Results, iso_utc

# old key -> (subject, unit): the dicts of sample lists, one per operation or step
OLD_DICTS = {
    'cpfs': (CPFS, 's'), 'cpfs_calls': (CPFS, 'calls'),
    'lv': (LV_FLOOR, 's'), 'lv_calls': (LV_FLOOR, 'calls'),
    'fuse': (FUSE_FLOOR, 's'),
}
# old key -> (operation, subject, unit): the lists of samples of one measurement
OLD_LISTS = {
    'rss': ('rss_peak', CPFS, 'KiB'), 'anon': ('rss_anon_end', CPFS, 'KiB'),
    'file': ('rss_file_end', CPFS, 'KiB'), 'lv_rss': ('rss_peak', LV_FLOOR, 'KiB'),
    'lv_anon': ('rss_anon_end', LV_FLOOR, 'KiB'), 'fuse_rss': ('rss_peak', FUSE_FLOOR, 'KiB'),
    'virsh': ('read_all', VIRSH, 's'),
}
HEAD_RE = re.compile(r'checkpointfs benchmark, (\S+ \S+), (quick|full) run, (\d+) s$')


def old_header(txt_path):
    """(date 'YYYY-MM-DD HH:MM', seconds, machine line) from the old results.txt's header."""
    try:
        with open(txt_path) as f:
            first, second = f.readline().rstrip('\n'), f.readline().rstrip('\n')
    except OSError as e:
        raise BadResults(f'{txt_path}: {e} (the old table holds the machine and run time)')
    m = HEAD_RE.match(first)
    if not m or not second.startswith('machine: '):
        raise BadResults(f'{txt_path}: no old header (first two lines: {first!r}, {second!r})')
    return m.group(1), int(m.group(3)), second[len('machine: '):]


def new_shape(old):
    """The new format's shape entry for the old result OLD."""
    s = {k: old[k] for k in ('name', 'label', 'domains', 'per_domain', 'checkpoints', 'driver')}
    s.update(date=iso_utc(old['started']), seconds=old['seconds'], load_before=old['load'][0],
             load_after=old['load'][1], checks=old.get('counts', {}))
    return s


def add_records(res, shape, old):
    """Adds every sample of the old result OLD as records of SHAPE."""
    for key, (subject, unit) in OLD_DICTS.items():
        for op, samples in old.get(key, {}).items():
            for v in samples:
                res.add(shape, op, subject, unit, v)
    for key, (op, subject, unit) in OLD_LISTS.items():
        for v in old.get(key, []):
            res.add(shape, op, subject, unit, v)


def convert(json_path, txt_path):
    """The Results held by the old runner's JSON_PATH, with TXT_PATH's machine and run time."""
    with open(json_path) as f:
        old = json.load(f)
    if 'format' in old or 'results' not in old:
        raise BadResults(f'{json_path} is not in the old runner\'s format')
    date, seconds, machine = old_header(txt_path)
    end = max(r['started'] + r['seconds'] for r in old['results'])
    if iso_utc(end)[:16].replace('T', ' ') != date:
        raise BadResults(f'{txt_path} ({date}) was not written by the run of {json_path} '
                         f'(which ended {iso_utc(end)})')
    args = old['args']
    res = Results({'date': iso_utc(end), 'seconds': seconds, 'quick': args['quick'],
                   'reps': args['reps'], 'create_reps': args['create_reps'],
                   'cache_timeout': args['cache_timeout'], 'machine': machine,
                   'notes': old.get('notes', [])})
    for r in old['results']:
        shape = new_shape(r)
        res.shapes.append(shape)
        add_records(res, shape, r)
    return res
