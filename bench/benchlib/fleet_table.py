"""The fleet table (issue 10) of results.txt, from the records alone: what each operation
costs per host at 10 and at 100 hosts, and whether that stays flat (at most 1.2x)."""

import statistics

from .results import CPFS, LV_FLOOR

LIMIT = 1.2  # issue 10: the cost per host at 100 hosts at most 1.2x the cost at 10
# (operation, unit, title, held to the target, the libvirt floor's steps)
FLEET_ROWS = (
    ('mount_connected', 's', 'mount until all connected', True, ('open',)),
    ('create', 's', 'create all (mkdir)', False, ('create',)),
    ('walk_cold', 's', 'cold walk', True, ('list',)),
    ('walk_warm', 's', 'warm walk', True, ()),
    ('read_cold', 's', 'cold read all', True, ('list', 'read')),
    ('read_warm', 's', 'warm read all', True, ()),
    ('rss_connected', 'KiB', 'daemon VmRSS once connected', True, ()),
    ('rss_end', 'KiB', 'daemon VmRSS at the end', True, ()),
    ('rss_peak', 'KiB', 'daemon peak RSS (VmHWM)', False, ()),
    ('unmount', 's', 'unmount until the daemon exits', False, ()),
)


def fleet_shapes(res):
    """(empty fleet or None, smaller, bigger) of the fleet shapes; None when fewer than two
    non-empty sizes were measured."""
    sizes = sorted((s for s in res.shapes if s['name'].startswith('fleet-')),
                   key=lambda s: s['domains'])
    empty = next((s for s in sizes if s['domains'] == 0), None)
    hosts = [s for s in sizes if s['domains'] > 0]
    return (empty, hosts[0], hosts[-1]) if len(hosts) >= 2 else None


def fleet_head(res):
    """The fleet table's column titles, naming the two sizes."""
    _, small, big = fleet_shapes(res)
    a, b = small['domains'], big['domains']
    return ['shape', 'operation', f'{a} hosts', 'per host', f'{b} hosts', 'per host',
            'ratio', 'floor ratio', 'target (issue 10)', 'result',
            f'per host: libvirt calls {a}/{b}']


def fmt(value, unit):
    """A time or a memory size for the table."""
    from .table import fmt_s  # table imports this module
    if value is None:
        return '-'
    if unit == 's':
        return fmt_s(value) if abs(value) >= 0.001 else f'{value * 1e6:.0f} us'
    return f'{value / 1024:.1f} MiB' if abs(value) >= 1024 else f'{value:.0f} KiB'


def per_host(res, empty, s, op, unit, subject=CPFS):
    """(value at S, its cost per host: (value - the empty fleet's) / hosts), None when
    unmeasured."""
    v = res.value(s['name'], op, subject, unit)
    if v is None:
        return None, None
    base = res.value(empty['name'], op, subject, unit) if empty else None
    return v, (v - (base or 0)) / s['domains']


def floor_ratio(res, small, big, steps):
    """Per host at BIG over per host at SMALL of the libvirt floor's STEPS summed (its N
    connections, no empty fleet to take off), or None."""
    def per(s):
        vals = [res.value(s['name'], st, LV_FLOOR) for st in steps]
        return None if not steps or None in vals else sum(vals) / s['domains']
    a, b = per(small), per(big)
    return b / a if a and b else None


def fleet_rows(res):
    """The fleet table's rows: each operation per host at the smaller and bigger size."""
    from .table import fmt_x, verdict  # table imports this module
    got = fleet_shapes(res)
    if not got:
        return []
    empty, small, big = got
    label = f'fleet {small["domains"]}->{big["domains"]}'
    rows = []
    for op, unit, title, held, steps in FLEET_ROWS:
        a, pa = per_host(res, empty, small, op, unit)
        b, pb = per_host(res, empty, big, op, unit)
        if a is None or b is None:
            continue
        ratio = pb / pa if pa and pa > 0 else None
        fx = floor_ratio(res, small, big, steps)
        ok = (ratio is not None and ratio <= LIMIT) if held else None
        bounded = ok is False and fx is not None and fx > LIMIT
        ca, cb = per_host(res, empty, small, op, 'calls')[1], per_host(res, empty, big, op,
                                                                       'calls')[1]
        note = f'{ca:.1f}/{cb:.1f}' if ca is not None and cb is not None else '-'
        if op == 'rss_connected':
            note = threads_note(small, big)
        elif op == 'unmount':
            note = log_note(small, big)
        rows.append([label, title, fmt(a, unit), fmt(pa, unit), fmt(b, unit), fmt(pb, unit),
                     fmt_x(ratio), fmt_x(fx), f'<={LIMIT}x per host' if held else '(none)',
                     verdict(ok) + (' (floor)' if bounded else ''), note])
    return rows


def threads_note(small, big):
    """The daemon's threads once connected at both sizes (medians), from the shapes' checks."""
    def med(s):
        seen = s.get('checks', {}).get('threads_connected', [])
        return f'{statistics.median(seen):.0f}' if seen else '?'
    return f'threads {med(small)}/{med(big)}'


def log_note(small, big):
    """The daemon log's 'did not stop' warnings and error lines of a mount (the values seen)
    at both sizes."""
    def seen(s, what):
        vals = s.get('checks', {}).get(what, [])
        return '/'.join(str(v) for v in vals) if vals else '?'
    return (f'log of a mount: threads not stopped {seen(small, "threads_not_stopped")} | '
            f'{seen(big, "threads_not_stopped")}, error lines {seen(small, "log_errors")} | '
            f'{seen(big, "log_errors")}')


def fleet_header(res, s):
    """The line of fleet shape S above the table."""
    what = (f'{s["domains"]} test-driver hosts on one libvirtd, 1 domain and '
            f'{s["per_domain"]} checkpoints each' if s['domains'] else
            'the empty fleet (the fixed cost)')
    mounts = len(res.samples(s['name'], 'mount_connected', CPFS))
    walked = s.get('mounts', 1)
    return (f'{s["label"]}: {what}, {mounts} mounts ({walked} walked, '
            f'{mounts - walked} connected and unmounted), load average '
            f'{s["load_before"]} before, {s["load_after"]} after')


def fleet_method(res):
    """The lines saying how the fleet rows were measured."""
    ct = res.run['cache_timeout']
    return [
        'hosts = test+unix:///NODE.xml?socket=S of one private libvirtd (uid 65534): every '
        'connection to a node file its own state, one running domain; the mounts of the '
        'sizes take turns; medians over mounts and repetitions '
        f'({res.run["reps"]} walks/reads per mount); cache_timeout={ct:g}s.',
        'mount = from starting checkpointfs until every host\'s user.checkpointfs.state is '
        'connected; create = bench/treeops mkchain in every host; cold = the daemon\'s '
        'listings aged past cache_timeout/2, then echo 2 > /proc/sys/vm/drop_caches; walk = '
        'find MNT; read all = bench/treeops read MNT.',
        'per host = (value at N hosts - value of the empty fleet) / N; ratio = per host '
        f'big / per host small, at most {LIMIT}x; libvirt calls = the root\'s '
        'user.checkpointfs.libvirt_calls (the sum over the hosts) around the operation.',
        'floor ratio = the same ratio for bench/fleet-floor (N plain connections to the same '
        'libvirtd, the same checkpoints): open all (of mount), create, list every domain, '
        'checkpoint and parent (of cold walk), + read every XML (of cold read all); MISS '
        '(floor) = the floor grows as much.',
    ]
