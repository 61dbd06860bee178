/** The features pool's thread module for ONNX Runtime: it never loads TensorFlow.js. */
import { featuresThread } from '../features_worker.ts';
import { loadOnnxRunner } from './onnx_engine.ts';

export default featuresThread(loadOnnxRunner);
