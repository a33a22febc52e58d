#!/usr/bin/env python3
"""Hostile torch.export programs, made from torch2/pt2_word_lm.pt2 by
editing its graph (the standard library only; no PyTorch needed).

bad/: refused with exit 3 before any node runs, by every subcommand:
  pt2_from_file.pt2      maps victim.txt (in the working folder) read-write with
                         aten::from_file and overwrites it with fill_; where a
                         user allows the operator, the confinement stops it
  pt2_reshape_alias.pt2  aten::_reshape_alias far past its storage, then sum
  pt2_set_storage.pt2    aten::set_ of one tensor's storage on another
  pt2_deep_metadata.pt2  a node whose metadata nests 200,000 levels deep
  pt2_to_dtype_int.pt2   aten::to.dtype given the dtype as a plain integer, 2**63-1
                         (LibTorch casts it to its enum unchecked: SIGSEGV)
  pt2_view_dtype_int.pt2 aten::view.dtype given the dtype 1000 as a plain integer
hostile_run/: every operator allowed, so the program loads; it fails, with
exit 3, when run:
  pt2_floordiv_min.pt2   the interpreter's floordiv of -2**63 by -1 (SIGFPE in
                         plain int64 arithmetic)
  pt2_expand_sum.pt2     a weight expanded (for free: stride 0) to 2**33 x 16 x
                         its size, then summed: a minute of work

    python3 make_hostile_pt2.py
"""
import json
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "torch2", "pt2_word_lm.pt2")
PROGRAM = "serialized_exported_program.json"


def tensor(name):
    return {"as_tensor": {"name": name}}


def node(target, inputs, outputs):
    return {"target": target, "inputs": [{"name": k, "arg": v} for k, v in inputs],
            "outputs": outputs, "metadata": {}}


def write(name, edit, raw=None):
    with zipfile.ZipFile(SOURCE) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    out = os.path.join(HERE, name)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for info, data in entries:
            if info.filename.endswith(PROGRAM):
                program = json.loads(data)
                edit(program["graph_module"]["graph"]["nodes"])
                data = raw(program) if raw else json.dumps(program).encode()
            z.writestr(zipfile.ZipInfo(info.filename, date_time=info.date_time), data)


def from_file(nodes):
    nodes.insert(0, node("torch.ops.aten.from_file.default",
                         [("filename", {"as_string": "victim.txt"}), ("shared", {"as_bool": True}),
                          ("size", {"as_int": 8}), ("dtype", {"as_scalar_type": 1})],
                         [tensor("mapped")]))
    nodes.insert(1, node("torch.ops.aten.fill_.Scalar", [("self", tensor("mapped")), ("value", {"as_int": 88})],
                         [tensor("filled")]))


def reshape_alias(nodes):
    nodes.insert(0, node("torch.ops.aten._reshape_alias.default",
                         [("self", tensor("p_encoder_weight")), ("size", {"as_ints": [1 << 40]}),
                          ("stride", {"as_ints": [1]})], [tensor("wild")]))
    nodes.insert(1, node("torch.ops.aten.sum.default", [("self", tensor("wild"))], [tensor("wild_sum")]))


def set_storage(nodes):
    nodes.insert(0, node("torch.ops.aten.set_.source_Tensor",
                         [("self", tensor("p_encoder_weight")), ("source", tensor("src"))], [tensor("aliased")]))


def floordiv_min(nodes):
    nodes.insert(0, node("_operator.floordiv", [("a", {"as_int": -(1 << 63)}), ("b", {"as_int": -1})],
                         [{"as_sym_int": {"as_name": "quotient"}}]))


def expand_sum(nodes):
    nodes.insert(0, node("torch.ops.aten.expand.default",
                         [("self", tensor("p_encoder_weight")), ("size", {"as_ints": [1 << 33, 16, -1, -1]})],
                         [tensor("huge")]))
    nodes.insert(1, node("torch.ops.aten.sum.default", [("self", tensor("huge"))], [tensor("huge_sum")]))


def to_dtype_int(nodes):
    nodes.insert(0, node("torch.ops.aten.to.dtype",
                         [("self", tensor("p_encoder_weight")), ("dtype", {"as_int": (1 << 63) - 1})],
                         [tensor("cast")]))


def view_dtype_int(nodes):
    nodes.insert(0, node("torch.ops.aten.view.dtype",
                         [("self", tensor("p_encoder_weight")), ("dtype", {"as_int": 1000})],
                         [tensor("viewed")]))


def deep(nodes):
    nodes[0]["metadata"]["deep"] = "DEEP"


def deep_raw(program):
    depth = 200000
    text = json.dumps(program)
    return text.replace('"DEEP"', "[" * depth + "]" * depth).encode()


if __name__ == "__main__":
    write(os.path.join("bad", "pt2_from_file.pt2"), from_file)
    write(os.path.join("bad", "pt2_reshape_alias.pt2"), reshape_alias)
    write(os.path.join("bad", "pt2_set_storage.pt2"), set_storage)
    write(os.path.join("hostile_run", "pt2_floordiv_min.pt2"), floordiv_min)
    write(os.path.join("bad", "pt2_deep_metadata.pt2"), deep, deep_raw)
    write(os.path.join("hostile_run", "pt2_expand_sum.pt2"), expand_sum)
    write(os.path.join("bad", "pt2_to_dtype_int.pt2"), to_dtype_int)
    write(os.path.join("bad", "pt2_view_dtype_int.pt2"), view_dtype_int)
