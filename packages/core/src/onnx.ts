// The ONNX half of core, a separate entry (`@flowers/core/onnx`): ONNX Runtime and the graph
// builder that the features and train stages write their graphs with.
export { ONNX_OPSET, OnnxGraph, type AttributeValue, type ElementType } from './onnx_graph.ts';
export { hasCudaDevice, loadOnnxRuntime, sessionOptions, ONNX_EXECUTION_PROVIDERS, type OnnxExecutionProvider, type OnnxRuntime, type OrtModule } from './onnx_runtime.ts';
export { explicitPads, samePadding, type Pair } from './onnx_padding.ts';
