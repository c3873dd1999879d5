"""The table of results.txt, computed from the records alone: every row, ratio and target."""

import datetime

from .results import CPFS, FUSE_FLOOR, LV_FLOOR, TREE_OPS, VIRSH

SHAPE_ORDER = ['wide-1k', 'wide-3k', 'wide-10k', 'deep', 'small']
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


def ordered_shapes(res):
    """The shapes in the issue's order (wide scaling points, deep, small)."""
    return sorted(res.shapes, key=lambda s: SHAPE_ORDER.index(s['name']))


def table_rows(res):
    """Every row of the table, shape by shape, then the growth and deep/wide rows."""
    rows = []
    for s in ordered_shapes(res):
        rows += op_rows(res, s) + rss_rows(res, s) + virsh_rows(res, s)
    small, big = res.shape('wide-1k'), res.shape('wide-10k')
    if small and big:
        rows += growth_rows(res, small, big)
    deep = res.shape('deep')
    if deep and big:
        rows += deep_rows(res, deep, big)
    return rows


def layout(rows):
    """ROWS under HEAD in aligned columns, a blank line between row groups."""
    table = [HEAD] + rows
    widths = [max(len(str(r[i])) for r in table) for i in range(len(HEAD))]
    lines = []
    for i, r in enumerate(table):
        if i > 1 and r[0] != table[i - 1][0]:
            lines.append('')
        lines.append('  '.join(str(c).ljust(w) if j < 2 or j >= 6 else str(c).rjust(w)
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
    for s in ordered_shapes(res):
        lines.append(f'{s["label"]}: {s["checkpoints"]} checkpoints on the {s["driver"]} '
                     f'driver, load average {s["load_before"]} before, {s["load_after"]} after, '
                     f'{s["seconds"]:.0f} s')
    return lines


def render(res):
    """The whole text of results.txt but the plot's line."""
    lines = header(res) + [''] + layout(table_rows(res))
    if res.run.get('notes'):
        lines += ['', 'notes:'] + [f'  - {n}' for n in res.run['notes']]
    return '\n'.join(lines) + '\n'
