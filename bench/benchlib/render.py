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
    line; returns the text written and why the plot is missing (None when drawn or not asked)."""
    text = table.render(res)
    why = None
    if png_path:
        try:
            plot.draw(res, png_path)
            rel = os.path.relpath(png_path, os.path.dirname(os.path.abspath(txt_path)))
            text += f'\nscaling plot: {rel}\n'
        except plot.NoPlot as e:
            why = str(e)
    tmp = txt_path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, txt_path)
    return text, why
