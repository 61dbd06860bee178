/**
 * The image formats the pipeline accepts, recognised by their leading bytes. libvips picks a
 * loader by content, whatever the file is called, and some of its loaders (SVG above all) can
 * spend minutes on a few hundred bytes: a file goes to sharp only once its content is one of these.
 */
const SIGNATURES: ReadonlyArray<{ format: string; parts: ReadonlyArray<[offset: number, bytes: readonly number[]]> }> = [
  { format: 'JPEG', parts: [[0, [0xff, 0xd8, 0xff]]] },
  { format: 'PNG', parts: [[0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]]] },
  // RIFF, a 4-byte size, WEBP.
  { format: 'WebP', parts: [[0, [...Buffer.from('RIFF')]], [8, [...Buffer.from('WEBP')]]] },
  { format: 'GIF', parts: [[0, [...Buffer.from('GIF87a')]]] },
  { format: 'GIF', parts: [[0, [...Buffer.from('GIF89a')]]] },
  // Little- and big-endian TIFF, and BigTIFF (43 instead of 42).
  { format: 'TIFF', parts: [[0, [0x49, 0x49, 0x2a, 0x00]]] },
  { format: 'TIFF', parts: [[0, [0x4d, 0x4d, 0x00, 0x2a]]] },
  { format: 'TIFF', parts: [[0, [0x49, 0x49, 0x2b, 0x00]]] },
  { format: 'TIFF', parts: [[0, [0x4d, 0x4d, 0x00, 0x2b]]] },
];

/** "JPEG, PNG, WebP, GIF or TIFF", for messages. */
export const ACCEPTED_FORMATS = [...new Set(SIGNATURES.map((s) => s.format))].join(', ').replace(/, (\w+)$/, ' or $1');

/** Whether a file's content is one of the accepted formats. */
export function isAcceptedImageFormat(data: Uint8Array): boolean {
  return SIGNATURES.some((s) => s.parts.every(([offset, bytes]) => bytes.every((b, i) => data[offset + i] === b)));
}
