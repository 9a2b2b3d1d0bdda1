"""Write platform_admin/static/favicon.svg and favicon.ico (16 and 32 px PNGs inside): the brand's blue tile
with a white house, drawn without an imaging library. Run it again after changing the shape or colour."""

import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "platform_admin" / "static"
BLUE, WHITE = (0x1D, 0x64, 0xD8), (255, 255, 255)
RADIUS = 7  # the tile's corners, on a 32-unit grid
HOUSE = [(16, 5), (4, 15.5), (8, 15.5), (8, 27), (13.5, 27), (13.5, 20), (18.5, 20), (18.5, 27), (24, 27),
         (24, 15.5), (28, 15.5)]
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
       f'<rect width="32" height="32" rx="{RADIUS}" fill="#1d64d8"/>'
       '<path d="M' + "L".join(f"{x:g} {y:g}" for x, y in HOUSE) + 'z" fill="#fff"/></svg>\n')


def in_house(x, y):
    inside = False
    for (x1, y1), (x2, y2) in zip(HOUSE, HOUSE[1:] + HOUSE[:1]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def in_tile(x, y):
    cx, cy = min(max(x, RADIUS), 32 - RADIUS), min(max(y, RADIUS), 32 - RADIUS)
    return (x - cx) ** 2 + (y - cy) ** 2 <= RADIUS ** 2


def pixel(px, py, size, samples=4):
    """RGBA of one pixel, 4x4 samples a pixel for smooth edges."""
    tile = house = 0
    for sy in range(samples):
        for sx in range(samples):
            x, y = (px + (sx + .5) / samples) * 32 / size, (py + (sy + .5) / samples) * 32 / size
            if in_tile(x, y):
                tile += 1
                house += in_house(x, y)
    if not tile:
        return bytes(4)
    share = house / tile
    rgb = [round(b * (1 - share) + w * share) for b, w in zip(BLUE, WHITE)]
    return bytes([*rgb, round(255 * tile / samples ** 2)])


def png(size):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + b"".join(pixel(x, y, size) for x in range(size)) for y in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def ico(sizes=(16, 32)):
    images = [(size, png(size)) for size in sizes]
    head, offset = struct.pack("<HHH", 0, 1, len(images)), 6 + 16 * len(images)
    for size, data in images:
        head += struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return head + b"".join(data for _size, data in images)


if __name__ == "__main__":
    (STATIC / "favicon.ico").write_bytes(ico())
    (STATIC / "favicon.svg").write_text(SVG)
