"""The scaling plot (results.png): cold walk and cold read all of the wide shape against the
floors, drawn by gnuplot (scripts/deps installs gnuplot-nox) from the records alone."""

import shutil
import subprocess

from .table import op_medians


class NoPlot(Exception):
    """The plot could not be drawn; the message says why."""


def scaling_points(res):
    """The wide shapes' scaling points, fewest checkpoints first."""
    return sorted((s for s in res.shapes if s['name'].startswith('wide-')),
                  key=lambda s: s['checkpoints'])


def data_block(res, pts):
    """Gnuplot's inline data: checkpoints, then checkpointfs and libvirt + FUSE floor seconds
    of cold walk and of cold read all."""
    lines = ['$scaling << EOD']
    for s in pts:
        vals = [s['checkpoints']]
        for op in ('walk_cold', 'read_cold'):
            cp, lv, fu, _ = op_medians(res, s['name'], op)
            vals += [cp, (lv or 0) + (fu or 0)]
        lines.append(' '.join(repr(v) for v in vals))
    return '\n'.join(lines + ['EOD'])


def script(res, pts, png):
    """The gnuplot program that draws PTS into PNG."""
    xs = ','.join(str(s['checkpoints']) for s in pts)
    lo, hi = pts[0]['checkpoints'] / 1.5, pts[-1]['checkpoints'] * 1.5
    return f'''{data_block(res, pts)}
set terminal pngcairo size 900,600 noenhanced
set output '{png}'
set title 'checkpointfs: cold walk and cold read all against the floors (wide shape, {pts[0]['per_domain']} checkpoints per domain)'
set xrange [{lo}:{hi}]
set xlabel 'checkpoints'
set ylabel 'seconds (median)'
set logscale xy
set xtics ({xs})
set key top left
set grid
plot $scaling using 1:2 with linespoints lw 2 pt 7 title 'checkpointfs cold walk', \\
     $scaling using 1:3 with linespoints lw 2 pt 6 dt 2 title 'libvirt + FUSE floor, walk', \\
     $scaling using 1:4 with linespoints lw 2 pt 5 title 'checkpointfs cold read all', \\
     $scaling using 1:5 with linespoints lw 2 pt 4 dt 2 title 'libvirt + FUSE floor, read all'
'''


def draw(res, png):
    """Draws the scaling plot of RES into PNG; returns None, or why RES has nothing to plot.
    Raises NoPlot when gnuplot is missing or fails."""
    pts = scaling_points(res)
    if len(pts) < 2:
        return f'{len(pts)} wide scaling point(s), a plot needs two'
    if not shutil.which('gnuplot'):
        raise NoPlot('gnuplot is not installed (scripts/deps installs gnuplot-nox)')
    r = subprocess.run(['gnuplot'], input=script(res, pts, png).encode(), capture_output=True)
    if r.returncode != 0:
        raise NoPlot(f'gnuplot failed: {r.stderr.decode(errors="replace").strip()}')
    return None
