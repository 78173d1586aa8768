"""A copy of a SavedModel whose uint8 image signature takes float32, so gradients reach the pixels.

A gradient cannot flow into an integer tensor, so a classifier exported with
only a uint8 input cannot be attacked by gradients as it is. Its graph almost
always casts the pixels to float first; this module rewrites the serialized
functions along the path of the input (the signature function, the functions
it calls, and Identity, Reshape, ExpandDims, Squeeze and resize ops on the way)
to carry float32, so that the first cast becomes float32 -> float32, and fixes
the signature's declared input type to match. The copy's pixels are the same
numbers (0 to 255), no longer rounded to integers.

The rewritten copy is loaded by `tf.saved_model.load` like any other, so
TensorFlow builds its gradient functions the usual way. Only the
``saved_model.pb`` is rewritten; the variables and assets are linked.
"""

import os
from typing import Dict

from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from robustkit.errors import UserError

_PASS_THROUGH = {"Identity": "T", "Reshape": "T", "ExpandDims": "T", "Squeeze": "T"}
_TO_FLOAT = {"Cast": "SrcT", "ResizeBilinear": "T", "ResizeBicubic": "T", "ResizeArea": "T"}
_CALLS = ("StatefulPartitionedCall", "PartitionedCall")


class RetypeError(UserError, ValueError):
    """A uint8 input that cannot be turned into a float one."""


def _signature_function(saved_model: saved_model_pb2.SavedModel, signature: str) -> str:
    graph = saved_model.meta_graphs[0].object_graph_def
    root = graph.nodes[0]
    for child in root.children:
        if child.local_name == "signatures":
            for entry in graph.nodes[child.node_id].children:
                if entry.local_name == signature:
                    return graph.nodes[entry.node_id].bare_concrete_function.concrete_function_name
    raise RetypeError(f"the SavedModel has no signature {signature!r} in its object graph")


class _Retyper:
    def __init__(self, functions: Dict[str, object], where: str):
        self.functions = functions
        self.where = where
        self.done = set()

    def function(self, name: str, arg: int) -> None:
        if (name, arg) in self.done:
            return
        self.done.add((name, arg))
        fdef = self.functions[name]
        spec = fdef.signature.input_arg[arg]
        if spec.type not in (types_pb2.DT_UINT8, types_pb2.DT_FLOAT):
            raise RetypeError(f"{self.where}: function {name} takes its image as {spec.type_attr or spec.type}")
        spec.type = types_pb2.DT_FLOAT
        self.consumers(fdef, spec.name)

    def consumers(self, fdef, ref: str) -> None:
        for node in fdef.node_def:
            for index, source in enumerate(node.input):
                if source != ref:
                    continue
                if node.op in _TO_FLOAT:
                    node.attr[_TO_FLOAT[node.op]].type = types_pb2.DT_FLOAT
                elif node.op in _PASS_THROUGH:
                    node.attr[_PASS_THROUGH[node.op]].type = types_pb2.DT_FLOAT
                    self.consumers(fdef, f"{node.name}:output:0")
                elif node.op in _CALLS:
                    node.attr["Tin"].list.type[index] = types_pb2.DT_FLOAT
                    self.function(node.attr["f"].func.name, index)
                elif node.op == "NoOp" or source.startswith("^"):
                    continue
                else:
                    raise RetypeError(
                        f"{self.where}: its uint8 input reaches a {node.op} op ({node.name}) before any cast to "
                        "float, so no gradient can reach the pixels; export a signature that takes float images"
                    )


def _retype_specs(value) -> int:
    """Sets every uint8 TensorSpec in a StructuredValue proto to float32; returns how many."""
    count = 0
    kind = value.WhichOneof("kind")
    if kind == "tensor_spec_value" and value.tensor_spec_value.dtype == types_pb2.DT_UINT8:
        value.tensor_spec_value.dtype = types_pb2.DT_FLOAT
        return 1
    if kind in ("list_value", "tuple_value"):
        for item in getattr(value, kind).values:
            count += _retype_specs(item)
    elif kind == "dict_value":
        for item in value.dict_value.fields.values():
            count += _retype_specs(item)
    return count


def float_copy(path: str, signature: str, target: str) -> None:
    """Writes to ``target`` a copy of the SavedModel at ``path`` whose ``signature`` takes float32 images.

    Raises:
      RetypeError: if the signature's uint8 input reaches an op other than a
        cast, a reshape-like op, a resize or a function call.
    """
    where = f"{path} (signature {signature!r})"
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    meta_graph = saved_model.meta_graphs[0]
    functions = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    name = _signature_function(saved_model, signature)
    uint8_args = [i for i, a in enumerate(functions[name].signature.input_arg) if a.type == types_pb2.DT_UINT8]
    if len(uint8_args) != 1:
        raise RetypeError(f"{where}: expected one uint8 input, found {len(uint8_args)}")
    _Retyper(functions, where).function(name, uint8_args[0])
    if _retype_specs(meta_graph.object_graph_def.concrete_functions[name].canonicalized_input_signature) != 1:
        raise RetypeError(f"{where}: the signature's declared input is not one uint8 tensor")
    for spec in meta_graph.signature_def[signature].inputs.values():
        if spec.dtype == types_pb2.DT_UINT8:
            spec.dtype = types_pb2.DT_FLOAT
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "saved_model.pb"), "wb") as f:
        f.write(saved_model.SerializeToString())
    for part in ("variables", "assets"):
        if os.path.exists(os.path.join(path, part)):
            os.symlink(os.path.abspath(os.path.join(path, part)), os.path.join(target, part))
