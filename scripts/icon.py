#!/usr/bin/env python3
"""Draws the VS Code extension's Marketplace icon (extensions/vscode/media/icon.png, 256×256): the bolt of
media/icon.svg in amber on a rounded indigo square, anti-aliased by 4×4 supersampling. The standard
library only; run it again after changing the shape."""
import pathlib
import struct
import zlib

SIZE, SAMPLES = 256, 4
# media/icon.svg's path (a 24×24 viewBox), centred with a margin.
BOLT = [(13, 2), (4, 14), (11, 14), (10, 22), (19, 10), (12, 10)]
SCALE, OFFSET = SIZE * 0.75 / 24, SIZE * 0.125
POLYGON = [(x * SCALE + OFFSET, y * SCALE + OFFSET) for x, y in BOLT]
BACKGROUND, BOLT_COLOUR, RADIUS = (49, 46, 129), (251, 191, 36), SIZE * 0.18


def inside_polygon(x, y):
    crossings = False
    for (x1, y1), (x2, y2) in zip(POLYGON, POLYGON[1:] + POLYGON[:1]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            crossings = not crossings
    return crossings


def inside_square(x, y):
    cx = min(max(x, RADIUS), SIZE - RADIUS)
    cy = min(max(y, RADIUS), SIZE - RADIUS)
    return (x - cx) ** 2 + (y - cy) ** 2 <= RADIUS**2


def pixel(px, py):
    square = bolt = 0
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            x, y = px + (sx + 0.5) / SAMPLES, py + (sy + 0.5) / SAMPLES
            if inside_square(x, y):
                square += 1
                bolt += inside_polygon(x, y)
    total = SAMPLES * SAMPLES
    if square == 0:
        return (0, 0, 0, 0)
    colour = [round((b * bolt + g * (square - bolt)) / square) for b, g in zip(BOLT_COLOUR, BACKGROUND)]
    return (*colour, round(255 * square / total))


def png(rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes(value for p in row for value in p) for row in rows)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    out = pathlib.Path(__file__).resolve().parent.parent / "extensions/vscode/media/icon.png"
    out.write_bytes(png([[pixel(x, y) for x in range(SIZE)] for y in range(SIZE)]))
    print(out)
