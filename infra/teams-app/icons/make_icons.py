#!/usr/bin/env python3
"""Draws Herald's two Teams app icons with the standard library alone (zlib + struct).

color.png   192x192, opaque: a white megaphone-like "H" on Herald's accent colour.
outline.png  32x32, white on a transparent background, as Teams requires for the outline icon.

Run from anywhere: python3 infra/teams-app/icons/make_icons.py (writes beside this script).
"""
import os
import struct
import zlib

ACCENT = (0x46, 0x4E, 0xB8)  # Teams-like indigo; also the manifest's accentColor


def png(width, height, pixel):
    """pixel(x, y) -> (r, g, b, a); returns the bytes of an RGBA PNG."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


def glyph(u, v):
    """True inside an "H" with a bell-like bar, on the unit square."""
    left = 0.22 <= u <= 0.36 and 0.2 <= v <= 0.8
    right = 0.64 <= u <= 0.78 and 0.2 <= v <= 0.8
    bar = 0.22 <= u <= 0.78 and 0.44 <= v <= 0.56
    dot = (u - 0.5) ** 2 + (v - 0.12) ** 2 <= 0.006
    return left or right or bar or dot


def color(x, y):
    u, v = (x + 0.5) / 192, (y + 0.5) / 192
    return (255, 255, 255, 255) if glyph(u, v) else (*ACCENT, 255)


def outline(x, y):
    u, v = (x + 0.5) / 32, (y + 0.5) / 32
    return (255, 255, 255, 255) if glyph(u, v) else (0, 0, 0, 0)


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "color.png"), "wb") as f:
    f.write(png(192, 192, color))
with open(os.path.join(here, "outline.png"), "wb") as f:
    f.write(png(32, 32, outline))
