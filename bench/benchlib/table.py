"""The table of results.txt, computed from the records alone: every row, ratio and target."""

import datetime
import statistics

from .fleet_table import fleet_head, fleet_header, fleet_method, fleet_rows
from .results import BK_FLOOR, CPFS, FUSE_FLOOR, LV_FLOOR, TREE_OPS, VIRSH, VNB

SHAPE_ORDER = ['wide-1k', 'wide-3k', 'wide-10k', 'deep', 'small', 'backup']
OP_TITLE = {
    'create': 'create all (mkdir)',
    'walk_cold': 'cold walk',
    'walk_warm': 'warm walk',
    'stat_cold': 'cold stat all',
    'stat_warm': 'warm stat all',
    'read_cold': 'cold read all',
    'read_warm': 'warm read all',
}
# op -> (libvirt floor steps, target kind): 'sum' = at most 1.5x (libvirt
# floor + FUSE floor), 'fuse' = at most 1.5x the FUSE floor, None = no target
# in issue 5 (shown for information).
FLOORS = {
    'create': (['create'], 'sum'),
    'walk_cold': (['list'], 'sum'),
    'walk_warm': ([], 'fuse'),
    'stat_cold': (['list', 'read'], None),
    'stat_warm': ([], None),
    'read_cold': (['list', 'read'], 'sum'),
    'read_warm': ([], 'fuse'),
}
HEAD = ['shape', 'operation', 'checkpointfs', 'libvirt floor', 'FUSE floor', 'ratio',
        'target (issue 5)', 'result', 'libvirt calls cpfs/floor']


def fmt_s(x):
    """Seconds for the table: whole above 100 s, two decimals above 1 s, else ms."""
    if x is None:
        return '-'
    if x >= 100:
        return f'{x:.0f} s'
    if x >= 1:
        return f'{x:.2f} s'
    return f'{x * 1000:.1f} ms'


def fmt_x(x):
    """A ratio for the table."""
    return '-' if x is None else (f'{x:.0f}x' if x >= 100 else f'{x:.2f}x')


def verdict(ok):
    """PASS, MISS, or '-' where there is no target."""
    return '-' if ok is None else ('PASS' if ok else 'MISS')


def op_medians(res, shape, op):
    """(checkpointfs, libvirt floor, FUSE floor, target kind) of OP on SHAPE, in seconds.

    The libvirt floor is the sum of its steps, None when one is missing, 0 when
    the op has none (warm ops)."""
    cp = res.value(shape, op, CPFS)
    steps, kind = FLOORS[op]
    lv_steps = [res.value(shape, s, LV_FLOOR) for s in steps]
    lv = None if any(v is None for v in lv_steps) else float(sum(lv_steps))
    return cp, lv, res.value(shape, op, FUSE_FLOOR), kind


def calls_text(res, shape, op):
    """'checkpointfs calls/libvirt floor calls' of OP on SHAPE."""
    c = res.value(shape, op, CPFS, 'calls')
    steps, _ = FLOORS[op]
    f = sum(res.value(shape, s, LV_FLOOR, 'calls') or 0 for s in steps)
    return '-' if c is None else f'{c:.0f}/{f:.0f}'


def op_rows(res, s):
    """The time rows of shape S: each op against its floor and target."""
    rows = []
    for op in TREE_OPS:
        cp, lv, fu, kind = op_medians(res, s['name'], op)
        if cp is None:
            continue
        floor = (lv or 0) + (fu or 0) if kind in ('sum', None) else fu
        ratio = cp / floor if floor else None
        if kind == 'sum':
            target, ok = '<=1.5x (libvirt+FUSE)', ratio is not None and ratio <= 1.5
        elif kind == 'fuse':
            target, ok = '<=1.5x FUSE floor', ratio is not None and ratio <= 1.5
        else:
            target, ok = '(none; vs libvirt+FUSE)' if lv else '(none; vs FUSE)', None
        rows.append([s['label'], OP_TITLE[op], fmt_s(cp), fmt_s(lv) if lv else '-',
                     fmt_s(fu), fmt_x(ratio), target, verdict(ok), calls_text(res, s['name'], op)])
    return rows


def rss_rows(res, s):
    """The peak RSS rows of shape S: the daemon's, and what it adds to the libvirt floor's."""
    name = s['name']
    rss = res.value(name, 'rss_peak', CPFS, 'KiB')
    if not rss:
        return []
    limit = 16 * 1024 + s['checkpoints']  # issue 5: 16 MiB + 1 KiB per checkpoint
    lv_rss = res.value(name, 'rss_peak', LV_FLOOR, 'KiB')
    fu_rss = res.value(name, 'rss_peak', FUSE_FLOOR, 'KiB')
    anon = res.value(name, 'rss_anon_end', CPFS, 'KiB')
    file = res.value(name, 'rss_file_end', CPFS, 'KiB')
    lv_anon = res.value(name, 'rss_anon_end', LV_FLOOR, 'KiB')
    split = (f'anon {anon / 1024:.1f}+file {file / 1024:.1f} MiB at end'
             if anon is not None and file is not None else '-')
    if lv_anon is not None:
        split += f' (floor anon {lv_anon / 1024:.1f})'
    bounded = lv_rss is not None and lv_rss > limit
    rows = [[s['label'], 'peak RSS (VmHWM)', f'{rss / 1024:.1f} MiB',
             f'{lv_rss / 1024:.1f} MiB' if lv_rss else '-',
             f'{fu_rss / 1024:.1f} MiB' if fu_rss else '-', '-',
             f'<={limit / 1024:.1f} MiB',
             verdict(rss <= limit) + (' (floor)' if bounded and rss > limit else ''), split]]
    if lv_rss:
        # What checkpointfs adds to a libvirt client doing the same work,
        # against the same budget.
        added = rss - lv_rss
        rows.append([s['label'], 'peak RSS over libvirt floor', f'{added / 1024:.1f} MiB',
                     '-', '-', '-', f'<={limit / 1024:.1f} MiB', verdict(added <= limit),
                     f'{added / s["checkpoints"]:.2f} KiB per checkpoint'])
    return rows


def virsh_rows(res, s):
    """Shape S's read all against the virsh checkpoint-dumpxml loop, cold and warm."""
    v = res.value(s['name'], 'read_all', VIRSH)
    if v is None:
        return []
    rows = []
    for op, what in (('read_cold', 'cold'), ('read_warm', 'warm')):
        cp, lv, fu, _ = op_medians(res, s['name'], op)
        if not cp:
            continue
        ratio = v / cp
        best = v / ((lv or 0) + (fu or 0)) if (lv or fu) else None
        note = f'floors allow {best:.0f}x' if best else '-'
        rows.append([s['label'], f'virsh loop vs {what} read', fmt_s(v), '-', '-',
                     f'{fmt_x(ratio)} faster', f'{what} read all >=100x faster',
                     verdict(ratio >= 100) + (' (floor)' if best and best < 100 and
                                              ratio < 100 else ''), note])
    return rows


def growth_rows(res, small, big):
    """Time(BIG)/time(SMALL) per op: 10x the checkpoints may cost at most 12x."""
    factor = big['checkpoints'] / small['checkpoints']
    label = f'wide {small["checkpoints"]}->{big["checkpoints"]}'
    rows = []
    for op in TREE_OPS:
        a, b = op_medians(res, small['name'], op), op_medians(res, big['name'], op)
        if a[0] is None or b[0] is None:
            continue
        cpx = b[0] / a[0]
        lvx = b[1] / a[1] if a[1] and b[1] else None
        fux = b[2] / a[2] if a[2] and b[2] else None
        lim = 1.2 * factor
        # When libvirt itself grows faster than the target, so must we.
        bounded = lvx is not None and lvx > lim and cpx > lim
        rows.append([label, OP_TITLE[op] + ' growth', fmt_x(cpx), fmt_x(lvx), fmt_x(fux),
                     '-', f'<={lim:.0f}x for {factor:.0f}x cps',
                     verdict(cpx <= lim) + (' (floor)' if bounded else ''),
                     f'libvirt floor grows {lvx:.1f}x' if bounded else '-'])
    return rows


def deep_rows(res, deep, wide):
    """Time per checkpoint of the deep chain against the wide shape's: at most 2x."""
    def per(t, s):
        return t / s['checkpoints'] if t else None
    rows = []
    for op in TREE_OPS:
        a, b = op_medians(res, wide['name'], op), op_medians(res, deep['name'], op)
        if a[0] is None or b[0] is None:
            continue
        cpx = per(b[0], deep) / per(a[0], wide)
        lvx = per(b[1], deep) / per(a[1], wide) if a[1] and b[1] else None
        fux = per(b[2], deep) / per(a[2], wide) if a[2] and b[2] else None
        rows.append(['deep/wide per cp', OP_TITLE[op], fmt_x(cpx), fmt_x(lvx), fmt_x(fux),
                     '-', '<=2x', verdict(cpx <= 2), '-'])
    return rows


def is_fleet(s):
    """True for a fleet shape (issue 10; fleet.py has its own table)."""
    return s['name'].startswith('fleet-')


def ordered_shapes(res):
    """The shapes in the issue's order (wide scaling points, deep, small, backup), then the
    fleet sizes, fewest hosts first."""
    return sorted(res.shapes, key=lambda s: (len(SHAPE_ORDER), s['domains']) if is_fleet(s)
                  else (SHAPE_ORDER.index(s['name']), 0))


def table_rows(res):
    """Every row of the table, shape by shape, then the growth and deep/wide rows."""
    rows = []
    for s in ordered_shapes(res):
        if is_fleet(s):
            continue
        rows += op_rows(res, s) + rss_rows(res, s) + virsh_rows(res, s)
    small, big = res.shape('wide-1k'), res.shape('wide-10k')
    if small and big:
        rows += growth_rows(res, small, big)
    deep = res.shape('deep')
    if deep and big:
        rows += deep_rows(res, deep, big)
    return rows


def layout(rows, head=HEAD, left_from=6):
    """ROWS under HEAD in aligned columns (the first two and those from LEFT_FROM on
    left-aligned), a blank line between row groups."""
    table = [head] + rows
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    lines = []
    for i, r in enumerate(table):
        if i > 1 and r[0] != table[i - 1][0]:
            lines.append('')
        lines.append('  '.join(str(c).ljust(w) if j < 2 or j >= left_from else str(c).rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths))).rstrip())
    lines.insert(1, '-' * max(len(line) for line in lines))
    return lines


METHOD = [
    'cold = daemon cache aged past cache_timeout/2, then echo 2 > /proc/sys/vm/drop_caches '
    '(not a remount: the test driver keeps its state in the daemon); warm = same op again at '
    'once.',
    'read all = bench/treeops read (open+read every xml through directory fds, what find -name '
    'xml -exec cat does; cat cannot open paths > PATH_MAX).',
    'libvirt floor of cold walk = list (domains, checkpoints, parents); of stat and read = list '
    '+ every XML; ratio = checkpointfs / (libvirt floor + FUSE floor), or / FUSE floor for warm '
    'ops.  Growth rows: time(big)/time(small).',
    'peak RSS = VmHWM of the daemon over the whole mount (libvirt floor: of its process), '
    'shared-library pages included (RssFile, about 17 MiB for any libvirt client here); on the '
    'test driver the hypervisor state lives in that process.',
    'MISS (floor) = the target is missed and the floor alone misses it too: the libvirt floor\'s '
    'own RSS or growth is over the target, or the floors allow less than 100x over the virsh '
    'loop.',
    'create on the test driver costs what libvirt itself costs (tens of ms per checkpoint, '
    'growing with the number held); floor and daemon run one after the other, so load changes '
    'show in that ratio.',
]


def header(res):
    """The lines above the table: the run, the machine, the method, each shape's load."""
    run = res.run
    end = datetime.datetime.strptime(run['date'], '%Y-%m-%dT%H:%M:%SZ')
    ct = run['cache_timeout']
    lines = [f'checkpointfs benchmark, {end:%Y-%m-%d %H:%M}, '
             f'{"quick" if run["quick"] else "full"} run, {run["seconds"]:.0f} s',
             f'machine: {run["machine"]}',
             f'method: {run["create_reps"]} mount(s) per shape creating every checkpoint; '
             f'per mount every walk/stat/read {run["reps"]}x; medians. '
             f'cache_timeout={ct:g}s (kernel timeouts {ct / 2:g}s).'] + METHOD
    if all(s['name'] == 'backup' or is_fleet(s) for s in res.shapes):  # --backup, --fleet
        lines[2:] = []
    for s in ordered_shapes(res):
        if is_fleet(s):
            lines.append(fleet_header(res, s))
            continue
        if s['name'] == 'backup':
            lines.append(f'{s["label"]}: 1 running QEMU domain, {s["disk"] >> 20} MiB qcow2 '
                         f'vda, {s["data"] >> 20} MiB in {s["extents"]} extents, '
                         f'{s["inc"] >> 20} MiB changed per incremental, {s["reps"]} '
                         f'repetitions, load average {s["load_before"]} before, '
                         f'{s["load_after"]} after, {s["seconds"]:.0f} s')
            continue
        lines.append(f'{s["label"]}: {s["checkpoints"]} checkpoints on the {s["driver"]} '
                     f'driver, load average {s["load_before"]} before, {s["load_after"]} after, '
                     f'{s["seconds"]:.0f} s')
    return lines


BACKUP_HEAD = ['shape', 'operation', 'checkpointfs', 'against', 'ratio', 'target (issue 9)',
               'result', 'against is']
BACKUP_METHOD = [
    'every copy starts with no backup job running and the page cache dropped (echo 3 > '
    '/proc/sys/vm/drop_caches); medians.',
    'NBD floor = bench/backup-floor: virDomainBackupBegin (pull mode, unix socket) + a copy of '
    'the export: full by nbdcopy or qemu-img convert (the faster median), incremental by reads '
    'of only the qemu:dirty-bitmap extents; no FUSE. A cp from checkpointfs begins its job in '
    'its open, so the floor counts the begin too.',
    'virtnbdbackup -l full / -l inc (stream format) on the same domain, a whole run of the '
    'tool; RSS = VmRSS of the daemon sampled every 5 ms during each cp, highest of all copies '
    'minus VmRSS before the first open.',
]
BACKUP_COPIES = (('backup_full_raw', 'full: cp --sparse=always vda.raw', 'backup_full'),
                 ('backup_full_qcow2', 'full: cp vda.qcow2', 'backup_full'),
                 ('backup_inc_qcow2', 'inc: cp monday/vda.qcow2', 'backup_inc'))


def backup_floor(res, name, op):
    """(seconds, text, samples) of the NBD floor of OP: job begin + copy, for a full copy by
    the faster of nbdcopy and qemu-img convert; (None, '-', []) when unmeasured."""
    best = (None, '-', [])
    tools = ((op, 'nbdcopy'), (op + '_convert', 'qemu-img convert')) if op == 'backup_full' \
        else ((op, 'dirty extents'),)
    for key, tool in tools:
        copy, begin = res.value(name, key, BK_FLOOR), res.value(name, key + '_begin', BK_FLOOR)
        if copy is not None and begin is not None and (best[0] is None or
                                                       copy + begin < best[0]):
            samples = [a + b for a, b in zip(res.samples(name, key, BK_FLOOR),
                                             res.samples(name, key + '_begin', BK_FLOOR))]
            best = (copy + begin, f'NBD floor: begin {fmt_s(begin)} + {tool} {fmt_s(copy)}',
                    samples)
    return best


def paired(cps, floors):
    """'; per repetition X': the median of each repetition's cp/floor (the two ran one after
    the other, so a load change on the machine touches both), or '' without samples."""
    pairs = [c / f for c, f in zip(cps, floors) if f]
    return f'; per repetition {fmt_x(statistics.median(pairs))}' if pairs else ''


def backup_rows(res, s):
    """The backup shape's rows: each cp against the NBD floor and virtnbdbackup, the RSS."""
    name, label = s['name'], s['label']
    rows = []
    for op, title, floor_op in BACKUP_COPIES:
        cp = res.value(name, op, CPFS)
        floor, what, floors = backup_floor(res, name, floor_op)
        ratio = cp / floor if cp and floor else None
        rows.append([label, title, fmt_s(cp), fmt_s(floor), fmt_x(ratio), '<=1.25x NBD floor',
                     verdict(None if ratio is None else ratio <= 1.25),
                     what + paired(res.samples(name, op, CPFS), floors)])
    for level, ops in (('full', ('backup_full_raw', 'backup_full_qcow2')),
                       ('inc', ('backup_inc_qcow2',))):
        vnb = res.value(name, f'backup_{level}', VNB)
        if vnb is None:
            continue
        cps = [res.value(name, op, CPFS) for op in ops]
        cp = None if None in cps else max(cps)  # the slower cp must win
        floor = backup_floor(res, name, f'backup_{level}')[0]
        what = f'virtnbdbackup -l {level}' + (f' ({vnb / floor:.2f}x the NBD floor)'
                                              if floor else '')
        rows.append([label, f'{level}: slowest cp vs virtnbdbackup', fmt_s(cp), fmt_s(vnb),
                     f'{fmt_x(vnb / cp)} faster' if cp else '-', 'faster than virtnbdbackup',
                     verdict(None if cp is None else cp < vnb), what])
    idle = res.value(name, 'rss_idle', CPFS, 'KiB')
    peaks = res.samples(name, 'rss_copy', CPFS, 'KiB')
    if idle and peaks:
        over = max(peaks) - idle
        rows.append([label, 'daemon RSS during cp, over idle', f'{over / 1024:.1f} MiB',
                     f'{idle / 1024:.1f} MiB', '-', '<=32 MiB over idle',
                     verdict(over <= 32 * 1024), f'idle VmRSS; highest of {len(peaks)}'
                     ' copies'])
    return rows


def render(res):
    """The whole text of results.txt but the plot's line."""
    rows = table_rows(res)
    lines = header(res) + ([''] + layout(rows) if rows else [])
    fleet = fleet_rows(res)
    if fleet:
        lines += ['', 'fleet (issue 10)', ''] + fleet_method(res) + [''] + layout(
            fleet, fleet_head(res), 8)
    backup = res.shape('backup')
    if backup:
        lines += ['', 'backup files (issue 9)', ''] + BACKUP_METHOD + [''] + layout(
            backup_rows(res, backup), BACKUP_HEAD, 5)
    if res.run.get('notes'):
        lines += ['', 'notes:'] + [f'  - {n}' for n in res.run['notes']]
    return '\n'.join(lines) + '\n'
