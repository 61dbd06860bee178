/**
 * Starts a worker process: `node --import tsx worker_bin.ts --queue URL --workdir DIR --registry
 * MODULE --stages a,b [--concurrency N] [--lock-duration-ms N --stalled-interval-ms N]`, where
 * MODULE exports `stages: QueueStage[]`: the queue's tests, with stages of their own (the
 * pipeline's stages are served by the CLI's `pipeline worker`).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { UserError, errorMessage, toInt, toPositive } from '@flowers/core';
import type { QueueStage } from './stage.ts';
import { DEFAULT_TIMING } from './timing.ts';
import { workerStopSignal } from './stop_signal.ts';
import { runWorker } from './worker.ts';

const { values } = parseArgs({
  options: {
    queue: { type: 'string' },
    workdir: { type: 'string', default: 'work' },
    registry: { type: 'string' },
    stages: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    'lock-duration-ms': { type: 'string' },
    'stalled-interval-ms': { type: 'string' },
  },
});

const signal = workerStopSignal();

try {
  if (!values.queue) throw new UserError('--queue redis://HOST:PORT is required');
  if (!values.registry) throw new UserError('--registry MODULE is required');
  const { stages } = (await import(pathToFileURL(path.resolve(values.registry)).href)) as { stages: QueueStage[] };
  await runWorker({
    queueUrl: values.queue,
    workdir: values.workdir,
    registry: stages,
    stages: values.stages ? values.stages.split(',') : stages.map((s) => s.stage),
    concurrency: toInt(values.concurrency, 'concurrency', 1),
    signal,
    timing: {
      lockDurationMs: values['lock-duration-ms'] ? toPositive(values['lock-duration-ms'], 'lock-duration-ms') : DEFAULT_TIMING.lockDurationMs,
      stalledIntervalMs: values['stalled-interval-ms'] ? toPositive(values['stalled-interval-ms'], 'stalled-interval-ms') : DEFAULT_TIMING.stalledIntervalMs,
    },
  });
} catch (error) {
  process.stderr.write(`${error instanceof UserError ? '' : 'error: '}${errorMessage(error)}\n`);
  process.exit(1);
}
