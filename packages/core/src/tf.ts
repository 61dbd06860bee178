// The TensorFlow.js half of core, a separate entry (`@flowers/core/tf`) so that worker threads
// that only decode images never load TensorFlow.js.
export { selectBackend, BACKEND_REQUESTS, type BackendRequest, type SelectedBackend } from './backend.ts';
export { fileIOHandler } from './tf_file_io.ts';
