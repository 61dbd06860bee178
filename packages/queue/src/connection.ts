import type { RedisOptions } from 'bullmq';
import { UserError } from '@flowers/core';

/** Where the queue's Redis is, parsed from `--queue`; `redacted` is the only form fit for logs and manifests. */
export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
  redacted: string;
}

/** Read when the URL carries no password, so that it stays out of shell history and process lists. */
export const PASSWORD_ENV = 'PIPELINE_REDIS_PASSWORD';

const EXAMPLE = 'redis://HOST:PORT, rediss://HOST:PORT for TLS, redis://:PASSWORD@HOST:PORT';

/** Parses `redis://[user:pass@]host[:port][/db]` or `rediss://…`; anything else is one UserError line. */
export function parseQueueUrl(url: string, env: NodeJS.ProcessEnv = process.env): QueueConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL may hold a password, so the message never repeats it.
    throw new UserError(`--queue: not a Redis URL (expected ${EXAMPLE})`);
  }
  const tls = parsed.protocol === 'rediss:';
  if (!tls && parsed.protocol !== 'redis:') throw new UserError(`--queue: unsupported scheme ${parsed.protocol} (expected ${EXAMPLE})`);
  if (!parsed.hostname) throw new UserError(`--queue: the URL names no host (expected ${EXAMPLE})`);
  const port = parsed.port ? Number(parsed.port) : 6379;
  const dbText = parsed.pathname.replace(/^\//, '');
  if (dbText && !/^\d+$/.test(dbText)) throw new UserError(`--queue: the path must be a database number, not /${dbText}`);
  const username = decodeURIComponent(parsed.username) || undefined;
  const password = decodeURIComponent(parsed.password) || env[PASSWORD_ENV] || undefined;
  const auth = password ? `${username ?? ''}:***@` : username ? `${username}@` : '';
  const dbSuffix = dbText ? `/${dbText}` : '';
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db: dbText ? Number(dbText) : 0,
    tls,
    username,
    password,
    redacted: `${parsed.protocol}//${auth}${parsed.host}${dbSuffix}`,
  };
}

/**
 * ioredis options for BullMQ's long-lived connections: they retry without limit, so workers and
 * producers ride out a Redis restart (BullMQ requires `maxRetriesPerRequest: null` for workers).
 */
export function redisOptions(connection: QueueConnection): RedisOptions {
  return {
    host: connection.host,
    port: connection.port,
    db: connection.db,
    username: connection.username,
    password: connection.password,
    tls: connection.tls ? {} : undefined,
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
  };
}
