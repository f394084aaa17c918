"""Display of summaries: aligned text and HTML tables, SI and IEC byte sizes.

Examples
--------
>>> si(61_100_840), iec(244_403_360)
('61.1 M', '233.1 MiB')
"""

from __future__ import annotations

import html

__all__ = ["si", "iec", "text_table", "html_table"]

_HEAD = ("layer", "kind", "output", "params", "MACs", "activations", "param bytes", "act. bytes")


def si(value, unit=""):
    """``value`` with an SI prefix (powers of 1000), one decimal.

    Examples
    --------
    >>> si(950), si(1_500_000, "B")
    ('950', '1.5 MB')
    """
    for prefix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {prefix}{unit}"
    return f"{value:g}" + (f" {unit}" if unit else "")


def iec(nbytes):
    """Bytes with an IEC prefix (powers of 1024), one decimal.

    Examples
    --------
    >>> iec(1023), iec(1536)
    ('1023 B', '1.5 KiB')
    """
    for prefix, scale in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.1f} {prefix}B"
    return f"{nbytes} B"


def _cells(s):
    b = s.bytes_per_elem
    body = [(r.name, r.kind, "x".join(map(str, r.output)), f"{r.params:,}", f"{r.macs:,}",
             f"{r.activations:,}", f"{r.params * b:,}", f"{r.activations * b:,}") for r in s.rows]
    t = s.totals
    foot = ("total", "", "", f"{t['params']:,}", f"{t['macs']:,}", f"{t['activations']:,}",
            f"{t['params'] * b:,}", f"{t['activations'] * b:,}")
    return body, foot


def text_table(s):
    """Aligned plain-text table with thousands separators and a totals line."""
    body, foot = _cells(s)
    widths = [max(len(row[i]) for row in (_HEAD, *body, foot)) for i in range(len(_HEAD))]

    def line(row):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    rule = "-" * len(line(_HEAD))
    title = (f"{s.model}  input {'x'.join(map(str, s.input))}  batch {s.batch}  "
             f"(MAC = multiply+add; activations = output elements; {s.bytes_per_elem}-byte elements)")
    return "\n".join([title, line(_HEAD), rule, *map(line, body), rule, line(foot)])


def html_table(s):
    """HTML table for Jupyter, numbers right-aligned, totals in a footer."""
    body, foot = _cells(s)

    def tr(row, cell="td"):
        return "<tr>" + "".join(
            f'<{cell} style="text-align:{"left" if i < 3 else "right"}">{html.escape(c)}</{cell}>'
            for i, c in enumerate(row)) + "</tr>"

    caption = f"{html.escape(s.model)}, input {'x'.join(map(str, s.input))}, batch {s.batch}"
    return (f"<table><caption>{caption}</caption><thead>{tr(_HEAD, 'th')}</thead>"
            f"<tbody>{''.join(map(tr, body))}</tbody><tfoot>{tr(foot, 'th')}</tfoot></table>")
