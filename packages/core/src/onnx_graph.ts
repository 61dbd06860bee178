import onnxProto, { type onnx as proto } from 'onnx-proto';

// onnx-proto is protobufjs code generated from ONNX's own onnx.proto (a CommonJS module).
const { onnx } = onnxProto;

/** The operator set the exporter writes: every operator used here has had its current form since. */
export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opsets 15 to 17. */
const IR_VERSION = 8;

export type ElementType = 'float32' | 'uint8' | 'int64';
const ELEMENT_TYPES: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int64: onnx.TensorProto.DataType.INT64,
};

/** Attribute values as ONNX stores them: ints, floats, lists of ints and strings. */
export type AttributeValue = number | number[] | { float: number } | { text: string };
type Dim = number | string;

function attribute(name: string, value: AttributeValue): proto.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if ('text' in value) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.text) };
  return { name, type: AttributeType.FLOAT, f: value.float };
}

function valueInfo(name: string, type: ElementType, dims: Dim[]): proto.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: ELEMENT_TYPES[type], shape: { dim } } } };
}

/**
 * An ONNX graph under construction: nodes in topological order, weights as initializers, and
 * unique tensor names made from hints (layer names), so a graph viewer shows Keras' names.
 */
export class OnnxGraph {
  private readonly nodes: proto.INodeProto[] = [];
  private readonly initializers: proto.ITensorProto[] = [];
  private readonly inputs: proto.IValueInfoProto[] = [];
  private readonly outputs: proto.IValueInfoProto[] = [];
  private readonly used: Set<string>;

  /** `interfaceNames` are the graph's input and output names, which no inner tensor may take. */
  constructor(private readonly name: string, interfaceNames: string[]) {
    this.used = new Set(interfaceNames);
  }

  private unique(hint: string): string {
    let name = hint;
    for (let n = 1; this.used.has(name); n++) name = `${hint}_${n}`;
    this.used.add(name);
    return name;
  }

  input(name: string, type: ElementType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares `tensor` a graph output named `name`. */
  output(tensor: string, name: string, type: ElementType, dims: Dim[]): void {
    this.node('Identity', [tensor], {}, name, name);
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A constant (weights, shapes, bounds); returns its tensor name. */
  constant(hint: string, values: Float32Array | BigInt64Array, dims: number[]): string {
    const name = this.unique(hint);
    const dataType = values instanceof Float32Array ? ELEMENT_TYPES.float32 : ELEMENT_TYPES.int64;
    // ONNX raw data is little-endian, as typed arrays are on every platform Node supports.
    this.initializers.push({ name, dims, dataType, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
    return name;
  }

  scalar(hint: string, value: number): string {
    return this.constant(hint, Float32Array.of(value), []);
  }

  /** Adds one node with a single output; returns that output's name. */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue>, hint: string, outputName?: string): string {
    return this.nodeWithOutputs(opType, inputs, attributes, hint, 1, outputName)[0]!;
  }

  /** Adds one node with `outputs` outputs (MaxPool's values and indices, say); returns their names. */
  nodeWithOutputs(opType: string, inputs: string[], attributes: Record<string, AttributeValue>, hint: string, outputs: number, outputName?: string): string[] {
    const names = Array.from({ length: outputs }, (_, i) => (i === 0 && outputName !== undefined ? outputName : this.unique(hint)));
    this.nodes.push({
      opType,
      name: this.unique(`${hint}/${opType}`),
      input: inputs,
      output: names,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return names;
  }

  /** int64 constants (axes, shapes, pads). */
  ints(hint: string, values: number[]): string {
    return this.constant(hint, BigInt64Array.from(values.map(BigInt)), [values.length]);
  }

  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'flowers-pipeline',
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
