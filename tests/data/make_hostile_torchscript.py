#!/usr/bin/env python3
"""Hostile TorchScript archives, made from simple_net.script.pt by editing
its pickles and records (the standard library only; no PyTorch needed).
LibTorch 1.13's unpickler trusts all of them; pevis checks every pickle of
the archive with its own restricted reader first, so each is refused with
exit 3 by every subcommand (tests/hostile_test.cpp reads bad/).

bad/:
  ts_build_empty.pt      data.pkl is PROTO 2, BUILD on an empty stack (SIGSEGV in LibTorch)
  ts_reduce_empty.pt     data.pkl is PROTO 2, REDUCE on an empty stack
  ts_tuple1_empty.pt     TUPLE1 on an empty stack (TUPLE2, TUPLE3 alike)
  ts_newobj_empty.pt     NEWOBJ on an empty stack
  ts_binpersid_empty.pt  BINPERSID on an empty stack
  ts_constants_byte.pt   one byte (BUILD) inserted into a valid constants.pkl
  ts_storage_short.pt    fc1.weight's storage record cut to 16 bytes (its 200 floats
                         read 784 bytes past it: pevis bias printed them as numbers)
  ts_storage_claims.pt   a storage declaring 2**28 elements on its 800-byte record
  ts_offset_far.pt       a tensor at storage offset 2**30

    python3 make_hostile_torchscript.py
"""
import os
import re
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "simple_net.script.pt")


def write(name, edit):
    """Copies SOURCE with edit(record name, bytes) -> bytes applied to each record."""
    with zipfile.ZipFile(SOURCE) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    top = entries[0][0].filename.split("/")[0]
    stem = os.path.splitext(name)[0]
    with zipfile.ZipFile(os.path.join(HERE, "bad", name), "w", zipfile.ZIP_STORED) as z:
        for info, data in entries:
            inner = info.filename[len(top) + 1:]
            if inner.endswith(".debug_pkl"):
                continue  # source locations only, naming the folder the fixture was made in
            z.writestr(zipfile.ZipInfo(stem + "/" + inner, date_time=info.date_time), edit(inner, data))


def replace_record(record, content):
    return lambda inner, data: content if inner == record else data


def first_storage_tuple(data):
    """The span of the first ('storage', torch.XStorage, key, 'cpu', numel) tuple's numel."""
    match = re.search(rb"X\x07\x00\x00\x00storage.*?X\x03\x00\x00\x00cpu(?:q.|r....)?(K.|M..|J....)t", data, re.S)
    assert match, "no storage tuple in data.pkl"
    return match.span(1)


def claim(inner, data):
    if inner != "data.pkl":
        return data
    start, end = first_storage_tuple(data)
    return data[:start] + b"J" + (1 << 28).to_bytes(4, "little") + data[end:]


def far_offset(inner, data):
    if inner != "data.pkl":
        return data
    # The first tensor: its storage's persistent id (BINPERSID), memoized, then the offset 0.
    match = re.search(rb"Q(?:q.|r....)(K\x00)", data, re.S)
    assert match, "no tensor offset in data.pkl"
    start, end = match.span(1)
    return data[:start] + b"J" + (1 << 30).to_bytes(4, "little") + data[end:]


def short_storage(inner, data):
    return data[:16] if inner == "data/0" else data


def inserted_byte(inner, data):
    return data[:2] + b"b" + data[2:] if inner == "constants.pkl" else data


if __name__ == "__main__":
    write("ts_build_empty.pt", replace_record("data.pkl", b"\x80\x02b)."))
    write("ts_reduce_empty.pt", replace_record("data.pkl", b"\x80\x02R."))
    write("ts_tuple1_empty.pt", replace_record("data.pkl", b"\x80\x02\x85."))
    write("ts_newobj_empty.pt", replace_record("data.pkl", b"\x80\x02\x81."))
    write("ts_binpersid_empty.pt", replace_record("data.pkl", b"\x80\x02Q."))
    write("ts_constants_byte.pt", inserted_byte)
    write("ts_storage_short.pt", short_storage)
    write("ts_storage_claims.pt", claim)
    write("ts_offset_far.pt", far_offset)
