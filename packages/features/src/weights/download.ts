import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { UserError } from '@flowers/core';

export interface DownloadOptions {
  url: string;
  cacheDir?: string;
  /** Expected MD5 (hex), as Keras' get_file checks it; without it any complete download is kept. */
  md5?: string;
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void;
}

/** `$FLOWERS_PIPELINE_CACHE`, else ~/.cache/flowers-pipeline. */
export function defaultCacheDir(): string {
  return process.env.FLOWERS_PIPELINE_CACHE || path.join(os.homedir(), '.cache', 'flowers-pipeline');
}

interface Digests {
  md5: string;
  sha256: string;
}

/** MD5 and SHA-256 of a stream, computed in one pass while it flows through. */
function hashing(): { digests: () => Digests; update: (chunk: Buffer) => void } {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  return {
    update: (chunk) => {
      md5.update(chunk);
      sha256.update(chunk);
    },
    digests: () => ({ md5: md5.digest('hex'), sha256: sha256.digest('hex') }),
  };
}

async function hashFile(file: string): Promise<Digests> {
  const hash = hashing();
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digests();
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Returns the file for `url` from the cache, downloading it first if needed. The download
 * streams into a temporary file that is renamed into the cache only once it is complete and
 * its MD5 matches; a cached file whose MD5 no longer matches is downloaded again.
 */
export async function downloadToCache({ url, cacheDir = defaultCacheDir(), md5, onProgress }: DownloadOptions): Promise<{ path: string; sha256: string }> {
  const target = path.join(cacheDir, path.basename(new URL(url).pathname));
  const expected = md5?.toLowerCase();
  if (await exists(target)) {
    const cached = await hashFile(target);
    if (expected === undefined || cached.md5 === expected) return { path: target, sha256: cached.sha256 };
  }

  const temp = `${target}.part-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await mkdir(cacheDir, { recursive: true });
    const response = await fetch(url);
    if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const header = Number(response.headers.get('content-length'));
    const total = Number.isFinite(header) && header > 0 ? header : undefined;
    const hash = hashing();
    let done = 0;
    await pipeline(
      Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          done += chunk.length;
          onProgress?.(done, total);
          yield chunk;
        }
      },
      createWriteStream(temp),
    );
    if (total !== undefined && done !== total) throw new Error(`incomplete: got ${done} of ${total} bytes`);
    const got = hash.digests();
    if (expected !== undefined && got.md5 !== expected) throw new Error(`corrupt: MD5 ${got.md5}, expected ${expected}`);
    await rename(temp, target);
    return { path: target, sha256: got.sha256 };
  } catch (error) {
    // fetch reports network failures as "fetch failed" with the reason in `cause`.
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new UserError(`download of ${url} failed: ${cause ?? (error as Error).message}`);
  } finally {
    // Cleanup only: a failure here (e.g. the cache path is not a folder) must not hide the cause.
    await rm(temp, { force: true }).catch(() => undefined);
  }
}
