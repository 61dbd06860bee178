import { Option, type Command } from 'commander';
import { toInt, type Logger, type StageExecutor } from '@flowers/core';
import { queueExecutor, type OptionValues } from '@flowers/pipeline';
import { featuresStage } from '@flowers/features';
import { DEFAULT_SHARD_SIZE } from '@flowers/queue/defaults';

export function addQueueOptions(command: Command): Command {
  return command
    .option('--queue <url>', "run the stages to build on the queue's workers (redis://HOST:PORT, rediss:// for TLS; a password in the URL or in PIPELINE_REDIS_PASSWORD)")
    .addOption(new Option('--shard-size <n>', `rows per shard job with --queue (default: ${DEFAULT_SHARD_SIZE}; features ${featuresStage.shards?.defaultSize}; augment and features round it up to whole record batches)`));
}

/**
 * `--queue` checked before any stage runs (a bad URL or an unreachable Redis: one line, within a
 * few seconds), as the executor the pipeline then runs with; undefined without `--queue`.
 */
export async function queueExecutorFrom(values: OptionValues, log: Logger): Promise<StageExecutor | undefined> {
  if (values.queue === undefined) {
    if (values.shardSize !== undefined) toInt(values.shardSize, 'shardSize', 1);
    return undefined;
  }
  const queueUrl = String(values.queue);
  const shardSize = values.shardSize === undefined ? undefined : toInt(values.shardSize, 'shardSize', 1);
  // BullMQ and ioredis load only for a command that uses the queue.
  const { checkRedis, parseQueueUrl } = await import('@flowers/queue');
  await checkRedis(parseQueueUrl(queueUrl), log);
  return queueExecutor({ queueUrl, ...(shardSize === undefined ? {} : { shardSize }) });
}
