"""Writes results.txt and results.png from Results: what bench/report and bench/run share."""

import os

from . import plot, table


def outputs(path):
    """The table's and the plot's paths for PATH: x.json or x.txt -> x.txt, x.png."""
    stem = path
    for ext in ('.json', '.txt'):
        if stem.endswith(ext):
            stem = stem[:-len(ext)]
    return stem + '.txt', stem + '.png'


def write(res, txt_path, png_path=None):
    """Writes the table to TXT_PATH and, with PNG_PATH, the plot, named on the table's last
    line.  Returns (text written, why there is no plot: None when drawn or not asked, failed:
    True when gnuplot is missing or failed, False when RES has nothing to plot)."""
    text = table.render(res)
    why, failed = None, False
    if png_path:
        try:
            why = plot.draw(res, png_path)
        except plot.NoPlot as e:
            why, failed = str(e), True
        if why is None:
            rel = os.path.relpath(png_path, os.path.dirname(os.path.abspath(txt_path)))
            text += f'\nscaling plot: {rel}\n'
    tmp = txt_path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, txt_path)
    return text, why, failed
