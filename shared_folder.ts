/**
 * The folder `shared/` beside the checkout, which tests and benchmarks read in place (never copied
 * into the repository): the flower photos, the ImageNet MobileNetV2 base and the PyTorch peer.
 * Resolved from this file, so they work wherever the checkout lies.
 */
import { fileURLToPath } from 'node:url';

export const SHARED_DIR = fileURLToPath(new URL('../shared', import.meta.url));
export const SHARED_FLOWERS = fileURLToPath(new URL('../shared/data/flowers', import.meta.url));
export const SHARED_MOBILENET_DIR = fileURLToPath(new URL('../shared/models/mobilenet_v2_0.35_imagenet/', import.meta.url));
export const SHARED_MOBILENET = fileURLToPath(new URL('../shared/models/mobilenet_v2_0.35_imagenet/model.json', import.meta.url));
export const SHARED_PEER = fileURLToPath(new URL('../shared/peers/pytorch_bench.py', import.meta.url));
