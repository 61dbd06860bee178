/** The features pool's thread module for TensorFlow.js. */
import { featuresThread } from '../features_worker.ts';
import { loadTfjsRunner } from './tfjs_engine.ts';

export default featuresThread(loadTfjsRunner);
