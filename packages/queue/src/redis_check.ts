import { Redis } from 'ioredis';
import { UserError, errorMessage, type Logger } from '@flowers/core';
import { redisOptions, type QueueConnection } from './connection.ts';

/** How long the first contact with Redis may take before the command gives up. */
export const CHECK_TIMEOUT_MS = 3_000;

/**
 * The first contact with Redis: fails fast, in one line, when it is unreachable or refuses the
 * credentials (BullMQ's own connections retry forever, which would look like a hang), and warns
 * when Redis may evict keys, which loses jobs.
 */
export async function checkRedis(connection: QueueConnection, log: Logger): Promise<void> {
  const client = new Redis({
    ...redisOptions(connection),
    lazyConnect: true,
    connectTimeout: CHECK_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() rejects only with "Connection is closed"; the cause arrives as an 'error' event.
  let cause: unknown;
  client.on('error', (error: unknown) => (cause ??= error));
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      throw new UserError(`cannot use Redis at ${connection.redacted}: ${describeFailure(cause ?? error)}`);
    }
    const policy = await maxmemoryPolicy(client);
    if (policy !== undefined && policy !== 'noeviction') {
      log.warn(`Redis at ${connection.redacted} has maxmemory-policy ${policy}; BullMQ needs noeviction, or it may lose jobs (CONFIG SET maxmemory-policy noeviction)`);
    }
  } finally {
    client.disconnect();
  }
}

/** The eviction policy, or undefined where CONFIG is disabled (managed Redis services often rename it). */
async function maxmemoryPolicy(client: Redis): Promise<string | undefined> {
  try {
    const reply = (await client.config('GET', 'maxmemory-policy')) as string[];
    return reply[1];
  } catch {
    return undefined;
  }
}

function describeFailure(error: unknown): string {
  const message = errorMessage(error);
  if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(message)) return `it refused the credentials (${message.split('\n')[0]})`;
  if (/ECONNREFUSED/.test(message)) return 'connection refused (is redis-server running there?)';
  if (/ETIMEDOUT|timed? ?out/i.test(message)) return `no answer within ${CHECK_TIMEOUT_MS / 1000} s`;
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return 'unknown host';
  return message.split('\n')[0] ?? message;
}
