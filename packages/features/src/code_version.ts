import { packageCodeVersion } from '@flowers/core';

/** A hash of the package's sources: the features artifacts and the exported ONNX graphs depend on it. */
export const featuresCodeVersion = (): Promise<string> => packageCodeVersion(new URL('./index.ts', import.meta.url).href);
