import { Option, type Command } from 'commander';
import { stderrLogger, toInt, toPositive, UserError, type Stage, type StageEnvironment } from '@flowers/core';
import { selectBackend, type BackendRequest } from '@flowers/core/tf';
import { PIPELINE_DEFAULTS, PIPELINE_STAGES } from '@flowers/pipeline';
import { resolvePath } from './context.ts';
import { backendOption } from './options.ts';

/** Stages that compute with a model, so a worker serving one selects an engine. */
const MODEL_STAGES = new Set(['features', 'train']);

interface WorkerOptions {
  queue: string;
  workdir?: string;
  concurrency: string;
  stages?: string;
  workers?: string;
  threads?: string;
  backend?: BackendRequest;
  lockDurationMs?: string;
  stalledIntervalMs?: string;
}

export function addWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("serve the queue's stage jobs (shards and merges) from a workdir every machine shares, until SIGTERM or Ctrl-C")
    .requiredOption('--queue <url>', 'the Redis the producers queue on: redis://HOST:PORT (rediss:// for TLS; a password in the URL or in PIPELINE_REDIS_PASSWORD)')
    .option('--workdir <dir>', `the shared workspace (default: ${PIPELINE_DEFAULTS.workdir}); every machine must see it at the same path`)
    .option('--concurrency <n>', 'jobs at once, per served stage', '1')
    .option('--stages <names>', `the stages to serve, comma-separated (default: all: ${PIPELINE_STAGES.map((s) => s.name).join(',')})`)
    .option('--workers <n>', `worker threads per job (default: number of cores, ${PIPELINE_DEFAULTS.workers})`)
    .option('--threads <n>', 'ONNX Runtime threads per job (default: one per core)')
    .addOption(backendOption())
    .addOption(new Option('--lock-duration-ms <n>', 'how long a job stays claimed without its worker renewing it').hideHelp())
    .addOption(new Option('--stalled-interval-ms <n>', "how often workers look for jobs whose worker vanished").hideHelp())
    .action((opts: WorkerOptions) => serve(opts));
}

async function serve(opts: WorkerOptions): Promise<void> {
  const log = stderrLogger;
  const { checkRedis, DEFAULT_TIMING, parseQueueUrl, queueStageOf, runWorker, workerStopSignal } = await import('@flowers/queue');
  const connection = parseQueueUrl(opts.queue);
  const known = PIPELINE_STAGES.map((s) => s.name as string);
  const stages = opts.stages === undefined ? known : opts.stages.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = stages.find((name) => !known.includes(name));
  if (unknown !== undefined || !stages.length) throw new UserError(`--stages: no stage named '${unknown ?? ''}' (one or more of ${known.join(', ')})`);
  const concurrency = toInt(opts.concurrency, 'concurrency', 1, 64);
  const workers = opts.workers === undefined ? PIPELINE_DEFAULTS.workers : toInt(opts.workers, 'workers', 1, 256);
  const threads = opts.threads === undefined ? undefined : toInt(opts.threads, 'threads', 1, 1024);
  // Before the engine loads: an unreachable Redis is one line, within seconds.
  await checkRedis(connection, log);
  const backend = stages.some((name) => MODEL_STAGES.has(name)) ? await selectBackend(opts.backend ?? 'auto') : undefined;
  if (backend) log.info(`backend: ${backend.name} — ${backend.reason}`);
  const signal = workerStopSignal();
  // Each job brings its producer's pipeline name (train records it); 'queue' names a job without one.
  // One job at a time, a stage may keep its loaded model for the next job (shards of one artifact).
  const env: StageEnvironment = { workers, ...(threads === undefined ? {} : { threads }), ...(backend ? { backend } : {}), log, signal, pipeline: 'queue', warm: concurrency === 1 };
  const registry = await Promise.all(PIPELINE_STAGES.filter((s) => stages.includes(s.name)).map((stage) => queueStageOf(stage as unknown as Stage<unknown>, env)));
  await runWorker({
    queueUrl: opts.queue,
    workdir: resolvePath(opts.workdir ?? PIPELINE_DEFAULTS.workdir),
    concurrency,
    stages,
    registry,
    signal,
    log,
    redisChecked: true,
    timing: {
      lockDurationMs: opts.lockDurationMs === undefined ? DEFAULT_TIMING.lockDurationMs : toPositive(opts.lockDurationMs, 'lockDurationMs'),
      stalledIntervalMs: opts.stalledIntervalMs === undefined ? DEFAULT_TIMING.stalledIntervalMs : toPositive(opts.stalledIntervalMs, 'stalledIntervalMs'),
    },
  });
  for (const stage of PIPELINE_STAGES) await stage.release?.();
}
