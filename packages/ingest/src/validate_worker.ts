import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { ACCEPTED_FORMATS, isAcceptedImageFormat } from './formats.ts';

// One libvips thread per decode: the pool size, not libvips, decides how many cores are used.
sharp.concurrency(1);
sharp.cache(false);

/** The reason given when libvips says only that one of its decoder's warnings was treated as an error. */
const GENERIC_FAILURE = "damaged data (the decoder warned, and sharp's failOn treats warnings as errors)";

export interface ValidateTask {
  file: string;
  maxPixels: number;
  /** A longer decode is skipped; sharp's own timeout, as libvips decodes on libuv threads that recycling a worker would not stop. */
  decodeTimeoutSeconds: number;
}

export type ValidateResult =
  | { ok: true; sha256: string; width: number; height: number; channels: number }
  | { ok: false; reason: string; sha256?: string; readError?: true };

/**
 * Decodes a file completely (so truncated JPEGs are caught, not only their headers) and hashes
 * its bytes. Bad files are results, not exceptions: one bad photo never stops a run.
 */
export default async function validateImage({ file, maxPixels, decodeTimeoutSeconds }: ValidateTask): Promise<ValidateResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    // Permissions, a flaky disk or network share, a file being replaced: says nothing about the image.
    return { ok: false, reason: `unreadable: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, readError: true };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length === 0) return { ok: false, reason: 'empty file (0 bytes)', sha256 };
  if (!isAcceptedImageFormat(bytes)) return { ok: false, reason: `not an image: the content is not ${ACCEPTED_FORMATS}`, sha256 };
  try {
    // sharp's default failOn ('warning'), as augment decodes: an image kept here is one the later stages accept.
    const image = sharp(bytes, { limitInputPixels: maxPixels });
    const meta = await image.metadata();
    await image.timeout({ seconds: decodeTimeoutSeconds }).raw().toBuffer();
    // EXIF orientations 5-8 rotate by 90 degrees: report the size people see.
    const rotated = (meta.orientation ?? 1) >= 5;
    const width = rotated ? meta.height! : meta.width!;
    const height = rotated ? meta.width! : meta.height!;
    return { ok: true, sha256, width, height, channels: meta.channels ?? 3 };
  } catch (error) {
    // libvips lists what went wrong line by line, in no fixed order: say the line with the cause,
    // not the generic one that failOn adds. Its error buffer is shared by the whole process, so
    // another decode finishing at the same moment can clear the cause and leave only that line.
    const lines = String(error instanceof Error ? error.message : error).split('\n').filter((line) => line.trim() !== '');
    const generic = (line: string): boolean => /treated as error due to failOn/.test(line);
    const message = lines.find((line) => !generic(line)) ?? (lines.some(generic) ? GENERIC_FAILURE : (lines[0] ?? 'unknown error'));
    const reason = /pixel limit/i.test(message)
      ? `too large: more than ${maxPixels} pixels`
      : /^timeout/.test(message)
        ? `too slow to decode: more than ${decodeTimeoutSeconds} s`
        : `corrupt image: ${message}`;
    return { ok: false, reason, sha256 };
  }
}
