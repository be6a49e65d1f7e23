"""
The status button artwork: four icon sets, drawn by this script.

Run C{python -m openmessenger.web.iconart} (needs Pillow and the DejaVu
fonts, Debian C{fonts-dejavu-core}) to redraw
C{openmessenger/web/status/}: for each set and state a PNG at 1x and 2x and
an SVG, in English and German where the set carries text.  The outputs are
committed; the server only reads them.

Every state has its own symbol, so the five are told apart without colour:
online a check mark, away clock hands, extended away a crescent moon, do
not disturb a bar, offline an empty ring with a cross.
"""

import os
from xml.sax.saxutils import escape

from openmessenger.buttons import ICONSETS, LABELS, PICTURES as OUT, STATES, WORDED, fileName

HEADINGS = {"en": "Live support", "de": "Live-Support"}
COLOURS = {"online": "#1e9e3a", "away": "#e0a000", "xa": "#b8660b", "dnd": "#c62828", "offline": "#8a939c"}
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def symbol(state, x, y, size, colour=None, ink="#ffffff"):
    """
    Drawing operations for a state's symbol in a C{size} square at (x, y).
    """
    colour = colour or COLOURS[state]
    r = size / 2
    cx, cy = x + r, y + r
    u = size / 16  # one unit of a 16-unit grid
    if state == "offline":
        return [
            ("circle", cx, cy, r - u, None, colour, 2 * u),
            ("line", cx - 3 * u, cy - 3 * u, cx + 3 * u, cy + 3 * u, colour, 2 * u),
            ("line", cx - 3 * u, cy + 3 * u, cx + 3 * u, cy - 3 * u, colour, 2 * u),
        ]
    ops = [("circle", cx, cy, r, colour, None, 0)]
    if state == "online":
        ops += [("line", cx - 4 * u, cy, cx - u, cy + 3 * u, ink, 2 * u),
                ("line", cx - u, cy + 3 * u, cx + 4 * u, cy - 3 * u, ink, 2 * u)]
    elif state == "away":
        ops += [("line", cx, cy, cx, cy - 5 * u, ink, 2 * u),
                ("line", cx, cy, cx + 4 * u, cy, ink, 2 * u)]
    elif state == "xa":
        ops += [("circle", cx - u, cy, 5 * u, ink, None, 0),
                ("circle", cx + 1.5 * u, cy - 1.5 * u, 4.5 * u, colour, None, 0)]
    elif state == "dnd":
        ops += [("rect", cx - 5 * u, cy - 1.5 * u, cx + 5 * u, cy + 1.5 * u, ink)]
    return ops


class Drawing:
    def __init__(self, width, height, ops):
        self.width, self.height, self.ops = width, height, ops


def drawing(iconset, state, lang):
    label = LABELS[lang][state]
    if iconset == "dot":
        return Drawing(16, 16, symbol(state, 0, 0, 16))
    if iconset == "label":
        return Drawing(150, 22, symbol(state, 3, 3, 16) + [
            ("text", 25, 15.5, label, 12, "#1d2733", False)])
    if iconset == "mono":
        return Drawing(150, 22, [("rrect", 0.5, 0.5, 149.5, 21.5, 4, "#ffffff", "#000000")]
                       + symbol(state, 3, 3, 16, colour="#000000")
                       + [("text", 25, 15.5, label, 12, "#000000", True)])
    if iconset == "button":
        colour = COLOURS[state]
        return Drawing(200, 48, [("rrect", 0.5, 0.5, 199.5, 47.5, 10, "#ffffff", colour)]
                       + symbol(state, 10, 10, 28)
                       + [("text", 48, 20, HEADINGS[lang], 13, "#1d2733", True),
                          ("text", 48, 37, label, 12, colour if state != "offline" else "#5a6470", False)])
    raise KeyError(iconset)


def toSVG(d):
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{d.width}" height="{d.height}" '
             f'viewBox="0 0 {d.width} {d.height}">']
    for op in d.ops:
        kind = op[0]
        if kind == "circle":
            _, cx, cy, r, fill, stroke, width = op
            parts.append(f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="{fill or "none"}"'
                         + (f' stroke="{stroke}" stroke-width="{width:g}"' if stroke else "") + "/>")
        elif kind == "line":
            _, x1, y1, x2, y2, colour, width = op
            parts.append(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{colour}" '
                         f'stroke-width="{width:g}" stroke-linecap="round"/>')
        elif kind == "rect":
            _, x0, y0, x1, y1, fill = op
            parts.append(f'<rect x="{x0:g}" y="{y0:g}" width="{x1 - x0:g}" height="{y1 - y0:g}" fill="{fill}"/>')
        elif kind == "rrect":
            _, x0, y0, x1, y1, r, fill, stroke = op
            parts.append(f'<rect x="{x0:g}" y="{y0:g}" width="{x1 - x0:g}" height="{y1 - y0:g}" rx="{r:g}" '
                         f'fill="{fill}" stroke="{stroke}"/>')
        elif kind == "text":
            _, x, y, text, size, colour, bold = op
            parts.append(f'<text x="{x:g}" y="{y:g}" font-family="DejaVu Sans, Verdana, sans-serif" '
                         f'font-size="{size:g}" fill="{colour}"' + (' font-weight="bold"' if bold else "")
                         + f">{escape(text)}</text>")
    parts.append("</svg>\n")
    return "".join(parts).encode("utf-8")


def toPNG(d, scale):
    from io import BytesIO

    from PIL import Image, ImageDraw, ImageFont

    # Draw at 4x the target and shrink: smooth edges without antialiasing support.
    k = 4 * scale
    image = Image.new("RGBA", (d.width * k, d.height * k), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for op in d.ops:
        kind = op[0]
        if kind == "circle":
            _, cx, cy, r, fill, stroke, width = op
            box = [(cx - r) * k, (cy - r) * k, (cx + r) * k, (cy + r) * k]
            pen.ellipse(box, fill=fill, outline=stroke, width=round(width * k) if stroke else 0)
        elif kind == "line":
            _, x1, y1, x2, y2, colour, width = op
            pen.line([x1 * k, y1 * k, x2 * k, y2 * k], fill=colour, width=round(width * k))
            for px, py in ((x1, y1), (x2, y2)):
                w = width * k / 2
                pen.ellipse([px * k - w, py * k - w, px * k + w, py * k + w], fill=colour)
        elif kind == "rect":
            _, x0, y0, x1, y1, fill = op
            pen.rectangle([x0 * k, y0 * k, x1 * k, y1 * k], fill=fill)
        elif kind == "rrect":
            _, x0, y0, x1, y1, r, fill, stroke = op
            pen.rounded_rectangle([x0 * k, y0 * k, x1 * k, y1 * k], radius=r * k, fill=fill,
                                  outline=stroke, width=k)
        elif kind == "text":
            _, x, y, text, size, colour, bold = op
            font = ImageFont.truetype(BOLD if bold else FONT, round(size * k))
            pen.text((x * k, y * k), text, font=font, fill=colour, anchor="ls")
    image = image.resize((d.width * scale, d.height * scale), Image.LANCZOS)
    out = BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def main():
    for iconset in ICONSETS:
        os.makedirs(os.path.join(OUT, iconset), exist_ok=True)
        for state in STATES:
            for lang in (("en", "de") if iconset in WORDED else ("en",)):
                d = drawing(iconset, state, lang)
                outputs = {fileName(iconset, state, lang, "svg"): toSVG(d)}
                for scale in (1, 2):
                    outputs[fileName(iconset, state, lang, "png", scale)] = toPNG(d, scale)
                for name, data in outputs.items():
                    with open(os.path.join(OUT, name), "wb") as f:
                        f.write(data)


if __name__ == "__main__":
    main()
