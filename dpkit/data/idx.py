"""A reader for the IDX file format used by MNIST and Fashion-MNIST.

Layout, from LeCun, Cortes and Burges, "The MNIST database"
(http://yann.lecun.com/exdb/mnist/, section "File formats"):

    bytes 0-1   zero
    byte  2     type code of the values (0x08 = unsigned byte, see IDX_DTYPES)
    byte  3     number of dimensions d
    4 * d bytes size of each dimension, big-endian unsigned 32-bit integers
    the rest    the values in C order, big-endian

A file whose name ends in ``.gz`` is decompressed first.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

#: Type code (byte 2 of the header) to NumPy dtype, all big-endian.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


#: zlib window setting that accepts exactly the gzip container (16 + 15-bit window).
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, plain or gzip-compressed, into an array.

    Parameters
    ----------
    path : str or Path
        The file. A name ending in ``.gz`` is decompressed with :mod:`gzip`.

    Returns
    -------
    ndarray
        Shape from the header and dtype from the type code, for example
        (60000, 28, 28) uint8 for MNIST training images.

    Raises
    ------
    ValueError
        When the file is not valid gzip (for a ``.gz`` name), when the header
        is malformed (non-zero first bytes, unknown type code, zero dimensions)
        or when the number of value bytes differs from the header's count. The
        message names the file and the problem.
    """
    path = Path(path)
    raw = _read_bytes(path)
    return parse_idx(raw, source=str(path))


def parse_idx(raw: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; ``source`` names it in errors."""
    if len(raw) < 4:
        raise ValueError(f"{source}: not an IDX file: {len(raw)} bytes is shorter than the 4-byte magic number")

    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{source}: not an IDX file: the magic number must start with two zero bytes; "
            f"got 0x{raw[:4].hex()}"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise ValueError(f"{source}: unknown IDX type code 0x{type_code:02X}; known codes are {known}")
    if ndim == 0:
        raise ValueError(f"{source}: the IDX header declares 0 dimensions; at least 1 is required")

    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{source}: truncated IDX header: {ndim} dimensions need {header_size} bytes; "
            f"the file has {len(raw)}"
        )
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))

    # The byte count must match exactly: a shorter file is truncated, a longer one
    # has a header that does not describe its contents.
    dtype = IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    actual = len(raw) - header_size
    if actual != expected:
        raise ValueError(
            f"{source}: the IDX header declares shape {shape} of {dtype.name} "
            f"({expected} bytes of values) but the file has {actual} bytes of values"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    compressed = path.read_bytes()

    # zlib reads one gzip member about twice as fast as gzip.decompress; files with
    # several members (rare, but valid gzip) fall back to gzip.decompress.
    try:
        decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
        raw = decompressor.decompress(compressed)
        if not decompressor.eof:
            raise ValueError(f"{path}: truncated gzip file: the compressed stream ends early")
        if decompressor.unused_data:
            raw = gzip.decompress(compressed)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: not a valid gzip file ({error})") from None
    return raw
