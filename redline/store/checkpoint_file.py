"""The evaluator checkpoint's file: opaque bytes the engine gave, written atomically, verified on read.

The store does not know what a checkpoint holds (``slo`` does: ``redline.slo.checkpoint``); it
keeps one file, ``<data_dir>/checkpoint/evaluator.ckpt``, laid out so that a reader can map
the large arrays instead of copying them:

    MAGIC | u64 head length | head | u64 buffer count | (u64 offset, u64 length) per buffer
    | padding | buffers, each at a 64-byte boundary | trailer

The trailer (``TRAILER``: length of everything before it, its CRC32, magic ``RLK1``) is checked
before anything is used, as a batch file's is: a truncated, zero-length or bit-flipped file is a
``CheckpointCorruptError`` (the caller rebuilds from raw samples), never a wrong state.

``read_checkpoint`` returns the buffers as copy-on-write views of a private memory map: only
the pages a reader touches (an evaluation reads a few minutes of each 30-day ring) become the
process's memory, and writing into them (ingesting the tail) never changes the file.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from redline.kernel.errors import StoreError
from redline.store.segments import write_atomically

__all__ = [
    "CHECKPOINT_DIR", "CheckpointCorruptError", "CheckpointData", "checkpoint_path", "read_checkpoint",
    "remove_checkpoint", "write_checkpoint",
]

CHECKPOINT_DIR: Final = "checkpoint"
_NAME: Final = "evaluator.ckpt"
MAGIC: Final = b"RLCKPT1\n"
TRAILER: Final = struct.Struct("<QI4s")
"""Length of the file before the trailer, CRC32 of those bytes, magic."""
_TRAILER_MAGIC: Final = b"RLK1"
_ALIGN: Final = 64
_U64: Final = struct.Struct("<Q")
_CHUNK: Final = 8 << 20


class CheckpointCorruptError(StoreError):
    """The checkpoint file fails its length or checksum check (or is not a checkpoint at all)."""


@dataclass(frozen=True)
class CheckpointData:
    """A verified checkpoint: the engine's head bytes and its buffers (views of a private map)."""

    head: bytes
    buffers: tuple[memoryview, ...]
    size_bytes: int


def checkpoint_path(data_dir: Path) -> Path:
    """Where the data directory's checkpoint lives."""
    return Path(data_dir) / CHECKPOINT_DIR / _NAME


def _pad(n: int) -> int:
    return -n % _ALIGN


def _write(fh: IO[bytes], head: bytes, buffers: Sequence[memoryview | bytes]) -> None:
    crc = 0
    written = 0

    def put(data: bytes | memoryview) -> None:
        nonlocal crc, written
        fh.write(data)
        crc = zlib.crc32(data, crc)
        written += len(data)

    views = [memoryview(b).cast("B") for b in buffers]
    table_at = len(MAGIC) + 8 + len(head) + 8
    offset = table_at + 16 * len(views)
    offset += _pad(offset)
    placed = []
    for view in views:
        placed.append((offset, view.nbytes))
        offset += view.nbytes + _pad(view.nbytes)
    put(MAGIC + _U64.pack(len(head)) + head + _U64.pack(len(views)))
    put(b"".join(struct.pack("<QQ", at, n) for at, n in placed))
    for (at, _), view in zip(placed, views, strict=True):
        put(bytes(at - written))
        put(view)
    fh.write(TRAILER.pack(written, crc, _TRAILER_MAGIC))


def write_checkpoint(data_dir: Path, head: bytes, buffers: Sequence[memoryview | bytes]) -> int:
    """Write the checkpoint atomically (write, fsync, rename); returns its size in bytes.
    ``StoreError`` names the file and the cause; an existing checkpoint is then left as it was."""
    path = checkpoint_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc}", path=path.parent) from exc
    return write_atomically(path, lambda fh: _write(fh, head, buffers))


def remove_checkpoint(data_dir: Path) -> None:
    """Delete the checkpoint if there is one (history written behind it: it no longer holds)."""
    try:
        checkpoint_path(data_dir).unlink()
    except (FileNotFoundError, NotADirectoryError):
        return  # none there (the data directory's own problem, if any, is the store's to report)
    except OSError as exc:
        raise StoreError(f"cannot remove {checkpoint_path(data_dir)}: {exc}") from exc


def _corrupt(path: Path, reason: str) -> CheckpointCorruptError:
    return CheckpointCorruptError(f"checkpoint {path} is damaged: {reason}", path=path)


def read_checkpoint(data_dir: Path) -> CheckpointData | None:
    """The verified checkpoint, or None when there is none. ``CheckpointCorruptError`` when it
    fails its checks; ``StoreError`` when it cannot be read (I/O)."""
    path = checkpoint_path(data_dir)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - the map outlives the with-block below
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}", path=path) from exc
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size < len(MAGIC) + 16 + TRAILER.size:
            raise _corrupt(path, f"it is {size} bytes long, shorter than any checkpoint")
        fh.seek(size - TRAILER.size)
        length, crc, magic = TRAILER.unpack(fh.read(TRAILER.size))
        if magic != _TRAILER_MAGIC or length != size - TRAILER.size:
            raise _corrupt(path, "its trailer is missing or does not match its length (truncated?)")
        fh.seek(0)
        running, left = 0, length
        while left:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                raise _corrupt(path, "it ended early")
            running = zlib.crc32(chunk, running)
            left -= len(chunk)
        if running != crc:
            raise _corrupt(path, "it fails its checksum")
        mapped = mmap.mmap(fh.fileno(), length, access=mmap.ACCESS_COPY)
    view = memoryview(mapped)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise _corrupt(path, "it does not start as a checkpoint")
    at = len(MAGIC)
    (head_len,) = _U64.unpack(view[at : at + 8])
    head = bytes(view[at + 8 : at + 8 + head_len])
    at += 8 + head_len
    (count,) = _U64.unpack(view[at : at + 8])
    at += 8
    buffers = []
    for i in range(count):
        offset, n = struct.unpack("<QQ", view[at + 16 * i : at + 16 * i + 16])
        if offset + n > length:
            raise _corrupt(path, f"buffer {i} lies past its end")
        buffers.append(view[offset : offset + n])
    return CheckpointData(head, tuple(buffers), size)
