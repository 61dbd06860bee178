/**
 * The exported feature graph's input and output names, apart from the exporter so that a worker
 * thread running the graph loads neither it nor TensorFlow.js.
 */

/** Graph input: a batch of images, NHWC RGB bytes, exactly as the pixel files hold them. */
export const ONNX_PIXELS_INPUT = 'pixels';
/** Graph outputs: every row's features (pooled as the spec says, NHWC order), and the cut layer's activations. */
export const ONNX_FEATURES_OUTPUT = 'features';
export const ONNX_CUT_OUTPUT = 'cut';
