"""Sizes as qemu-io and qemu-img write them (64k, 8M, 1G, or bytes), for
the helpers that compare extents and reports."""

UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text):
    """The number of bytes TEXT names: digits with an optional k/M/G."""
    text = text.strip()
    digits = text.rstrip("bBkKmMgG")
    unit = text[len(digits):].lower()
    if not digits.isdigit() or unit not in UNITS:
        raise SystemExit("not a size: " + text)
    return int(digits) * UNITS[unit]
