"""A model's input/output signature, read from its ONNX graph in KServe V2 terms."""

from __future__ import annotations

from onnx import ModelProto, TensorProto, ValueInfoProto

from shared.events.common import ModelSignature, TensorDatatype, TensorSpec

# ONNX element types the Open Inference Protocol can carry, by their V2 datatype names.
DATATYPES: dict[int, TensorDatatype] = {
    TensorProto.BOOL: "BOOL",
    TensorProto.UINT8: "UINT8",
    TensorProto.UINT16: "UINT16",
    TensorProto.UINT32: "UINT32",
    TensorProto.UINT64: "UINT64",
    TensorProto.INT8: "INT8",
    TensorProto.INT16: "INT16",
    TensorProto.INT32: "INT32",
    TensorProto.INT64: "INT64",
    TensorProto.FLOAT16: "FP16",
    TensorProto.FLOAT: "FP32",
    TensorProto.DOUBLE: "FP64",
    TensorProto.STRING: "BYTES",
}


class SignatureError(ValueError):
    """An input or output the Open Inference Protocol cannot carry."""


def read_signature(model: ModelProto) -> ModelSignature:
    """Graph inputs (minus initializers, which old exporters list as inputs) and outputs.

    A dimension without a fixed size (symbolic or unset) is ``-1``; a tensor of unknown
    rank gets the shape ``[-1]``, as Triton reports it.
    """
    initializers = {tensor.name for tensor in model.graph.initializer}
    return ModelSignature(
        inputs=[_spec(v) for v in model.graph.input if v.name not in initializers],
        outputs=[_spec(v) for v in model.graph.output],
    )


def _spec(value: ValueInfoProto) -> TensorSpec:
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        raise SignatureError(
            f"'{value.name}' is a {kind or 'value of unknown type'}, not a tensor; the "
            "inference protocol carries tensors only (export classifiers without ZipMap)"
        )
    tensor = value.type.tensor_type
    datatype = DATATYPES.get(tensor.elem_type)
    if datatype is None:
        name = TensorProto.DataType.Name(tensor.elem_type)
        raise SignatureError(f"'{value.name}' has element type {name}, which has no V2 datatype")
    if not tensor.HasField("shape"):
        return TensorSpec(name=value.name, datatype=datatype, shape=[-1])
    shape = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return TensorSpec(name=value.name, datatype=datatype, shape=shape)
