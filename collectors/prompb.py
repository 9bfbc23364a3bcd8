"""Prometheus remote write 1.0 messages (``prometheus/prompb``: ``WriteRequest``, ``TimeSeries``,
``Label``, ``Sample``) as protobuf classes, and the snappy block framing of their bodies.

The classes are built from a descriptor written here field for field after ``prompb/types.proto``
and ``prompb/remote.proto`` (the same wire format protoc would compile them to, without a protoc
step or a generated file to keep in step). Exemplars, native histograms and metadata are left out:
the protobuf parser skips their fields, so a sender that includes them is still read.
"""

from __future__ import annotations

from typing import Any, Final

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["Label", "Sample", "TimeSeries", "WriteRequest", "snappy_compress", "snappy_decompress"]

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name="redline/prompb_rw1.proto", package="prometheus", syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            field = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("Label", ("name", 1, _F.TYPE_STRING, opt, ""), ("value", 2, _F.TYPE_STRING, opt, ""))
    message("Sample", ("value", 1, _F.TYPE_DOUBLE, opt, ""), ("timestamp", 2, _F.TYPE_INT64, opt, ""))
    message(
        "TimeSeries",
        ("labels", 1, _F.TYPE_MESSAGE, rep, ".prometheus.Label"),
        ("samples", 2, _F.TYPE_MESSAGE, rep, ".prometheus.Sample"),
    )
    message("WriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, rep, ".prometheus.TimeSeries"))
    return proto


_POOL: Final = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
Label: Final[Any] = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("prometheus.Label"))
Sample: Final[Any] = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("prometheus.Sample"))
TimeSeries: Final[Any] = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("prometheus.TimeSeries"))
WriteRequest: Final[Any] = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("prometheus.WriteRequest"))


def snappy_compress(data: bytes) -> bytes:
    """``data`` in snappy's block format (what remote write sends, not the framed format)."""
    return bytes(cramjam.snappy.compress_raw(data))


def snappy_decompress(data: bytes, limit: int) -> bytes:
    """A snappy block's content; ``ValueError`` when it is not snappy, ``OverflowError`` when its
    declared length is over ``limit`` (checked before anything is inflated)."""
    try:
        size = cramjam.snappy.decompress_raw_len(data)
    except cramjam.DecompressionError as exc:
        raise ValueError(f"body is not snappy-compressed: {exc}") from exc
    if size > limit:
        raise OverflowError(f"body is over body_size_limit ({limit} bytes) once decompressed ({size})")
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as exc:
        raise ValueError(f"body is not snappy-compressed: {exc}") from exc
