/**
 * The queue's speed, with `pnpm pipeline` processes as a user starts them on one machine (loopback
 * Redis started here): each figure is a producer command's wall time, its upstream stages cached,
 * so every figure pays one process start alike.
 *   - features (MobileNetV2 0.35 on the shared photos' 150 px pixels, as the flattened map and
 *     average-pooled): 2 worker processes with one ONNX Runtime thread each, against the
 *     in-process engine on 2 threads;
 *   - augment, resize only, 150 px: one worker process with one pool thread, two such processes,
 *     and the in-process stage with `--workers 2`;
 *   - the queue's overhead per shard: the same small augment in 1 shard and in many.
 * Each queue figure also says how many cores its worker processes kept busy (their CPU time over
 * the producer's wall time), which bounds what more processes can add on these 2 cores.
 *   benchQueue()                               (pnpm bench queue: every shared photo)
 *   node --import tsx bench/queue.ts <photos>  (a first <photos> of them, to try it out)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnLogged, stopWorkers, type WorkerProcess } from '../packages/queue/test/fixtures.ts';
import { startRedis } from '../packages/queue/test/redis_server.ts';
import { SHARED_FLOWERS as FLOWERS, SHARED_MOBILENET } from '../shared_folder.ts';
import { median, round } from './stats.ts';
import { MANIFEST_FILE } from '../packages/core/src/index.ts';

const MAIN = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const RESIZE = ['--size', '150', '--views', '0', '--augment', 'none'];
const FEATURES = ['--base', 'mobilenet_v2', '--alpha', '0.35', '--weights', SHARED_MOBILENET, '--backend', 'onnx'];
/** Photos in the per-shard overhead measurement, and its shard size in the many-shards run. */
const OVERHEAD_PHOTOS = 60;
const OVERHEAD_SHARD = 4;
/** Rounds of every measurement; each figure is the median (the machine is shared and noisy). */
const ROUNDS = 3;

const pipeline = (args: string[], cwd: string): WorkerProcess => spawnLogged(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, env: { INIT_CWD: cwd } });

/** Seconds a pipeline command takes; it must succeed. It starts with the disk flushed, so no figure pays for the last one's writes. */
async function timed(args: string[], cwd: string): Promise<number> {
  execFileSync('sync');
  const started = performance.now();
  const run = pipeline(args, cwd);
  const { code } = await run.exited;
  if (code !== 0) throw new Error(`pipeline ${args.join(' ')} failed (${code}):\n${run.output().slice(-2000)}`);
  return (performance.now() - started) / 1000;
}

/** The first `count` photos, a class at a time in turn, copied into `dir` (or the whole shared set). */
function photos(dir: string, count: number | undefined): string {
  if (count === undefined) return FLOWERS;
  const classes = readdirSync(FLOWERS).sort();
  classes.forEach((label, c) => {
    mkdirSync(path.join(dir, label), { recursive: true });
    const share = Math.floor(count / classes.length) + (c < count % classes.length ? 1 : 0);
    for (const name of readdirSync(path.join(FLOWERS, label)).sort().slice(0, share)) copyFileSync(path.join(FLOWERS, label, name), path.join(dir, label, name));
  });
  return dir;
}


/** CPU seconds a process (all its threads) has used so far: utime + stime of /proc/<pid>/stat, in clock ticks of 1/100 s. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After the command name: state is field 3, utime and stime fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The photos the stages after ingest process: its manifest's split rows (hidden files and duplicate photos left out). */
function ingestedPhotos(workdir: string): number {
  const artifacts = path.join(workdir, 'artifacts', 'ingest');
  const [key] = readdirSync(artifacts);
  const { rows } = JSON.parse(readFileSync(path.join(artifacts, key!, MANIFEST_FILE), 'utf8')) as { rows: Record<'train' | 'validation' | 'test', number> };
  return rows.train + rows.validation + rows.test;
}

interface QueueRun {
  seconds: number;
  /** The worker processes' CPU seconds over the producer's wall time. */
  workerCores: number;
}

export async function benchQueue(photoCount?: number): Promise<Record<string, unknown>> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-queue-'));
  const redis = await startRedis(scratch, ['--maxmemory-policy', 'noeviction']);
  let workers: WorkerProcess[] = [];
  /** A fresh workdir holding `from`'s artifacts of `stages`, so that only the measured stage runs. */
  const workdir = (name: string, from?: string, stages: string[] = []): string => {
    const dir = path.join(scratch, name);
    for (const stage of stages) cpSync(path.join(from!, 'artifacts', stage), path.join(dir, 'artifacts', stage), { recursive: true });
    return dir;
  };
  const startWorkers = async (count: number, dir: string, args: string[]): Promise<void> => {
    workers = Array.from({ length: count }, () => pipeline(['worker', '--queue', redis.url, '--workdir', dir, ...args], scratch));
    await Promise.all(workers.map((w) => w.waitFor(/^worker .* serving/, 120_000)));
  };
  /** A queue run: `count` worker processes started first (not timed), then the producer, timed. */
  const onQueue = async (count: number, workerArgs: string[], args: string[], dir: string): Promise<QueueRun> => {
    await startWorkers(count, dir, workerArgs);
    try {
      const workersCpu = (): number => workers.reduce((sum, w) => sum + cpuSeconds(w.child.pid!), 0);
      const cpuBefore = workersCpu();
      const seconds = await timed([...args, '--workdir', dir, '--queue', redis.url], scratch);
      return { seconds, workerCores: round((workersCpu() - cpuBefore) / seconds) };
    } finally {
      await stopWorkers(workers);
      workers = [];
    }
  };
  try {
    const data = photos(path.join(scratch, 'photos'), photoCount);
    const base = workdir('ingested');
    await timed(['ingest', '--data', data, '--workdir', base], scratch);
    const images = ingestedPhotos(base);
    const augment = ['augment', '--data', data, ...RESIZE];
    const perSecond = (seconds: number): number => round(images / seconds, 1);

    const shardSize = String(Math.ceil(images / 4));
    const few = photos(path.join(scratch, 'few-photos'), OVERHEAD_PHOTOS);
    const fewBase = workdir('few-ingested');
    await timed(['ingest', '--data', few, '--workdir', fewBase], scratch);
    const small = ['augment', '--data', few, ...RESIZE, '--workers', '1'];
    const extraShards = Math.ceil(OVERHEAD_PHOTOS / OVERHEAD_SHARD) - 1;

    /** Every figure once, in fresh workdirs (named after the round), so nothing is cached between rounds. */
    const measureRound = async (round: number) => {
      const local2 = workdir(`augment-local-${round}`, base, ['ingest']);
      const augmentLocal = await timed([...augment, '--workers', '2', '--workdir', local2], scratch);
      const augmentOne = await onQueue(1, ['--stages', 'augment', '--workers', '1'], [...augment, '--workers', '1'], workdir(`augment-queue-1-${round}`, base, ['ingest']));
      const augmentTwo = await onQueue(2, ['--stages', 'augment', '--workers', '1'], [...augment, '--workers', '1'], workdir(`augment-queue-2-${round}`, base, ['ingest']));
      // Features over the pixel files the in-process augment wrote; 4 shards, 2 per worker. The
      // flattened map (the reference recipe's) writes 128 KB a photo, which the merge copies once
      // more; average-pooled features are 5 KB a photo, so their figure is the engine's and the queue's.
      const queueFeatures = async (pool: string) => {
        const features = ['features', '--data', data, ...RESIZE, ...FEATURES, '--pool', pool];
        const local = await timed([...features, '--threads', '2', '--workers', '2', '--workdir', local2], scratch);
        const queued = await onQueue(2, ['--stages', 'features', '--threads', '1', '--workers', '1', '--backend', 'onnx'], [...features, '--threads', '1', '--workers', '1', '--shard-size', shardSize], workdir(`features-queue-${pool}-${round}`, local2, ['ingest', 'augment']));
        return { local, queued };
      };
      const flattened = await queueFeatures('none');
      const pooled = await queueFeatures('avg');
      // The queue's cost per shard: the same small augment as one shard and as many.
      const oneShard = await onQueue(1, ['--stages', 'augment', '--workers', '1'], [...small, '--shard-size', String(OVERHEAD_PHOTOS)], workdir(`few-1-${round}`, fewBase, ['ingest']));
      const manyShards = await onQueue(1, ['--stages', 'augment', '--workers', '1'], [...small, '--shard-size', String(OVERHEAD_SHARD)], workdir(`few-n-${round}`, fewBase, ['ingest']));
      return { augmentLocal, augmentOne, augmentTwo, flattened, pooled, oneShard, manyShards };
    };
    const rounds: Array<Awaited<ReturnType<typeof measureRound>>> = [];
    for (let round = 0; round < ROUNDS; round++) rounds.push(await measureRound(round));

    /** A command's median over the rounds, with every round's seconds. */
    const local = (of: (r: (typeof rounds)[number]) => number) => {
      const runs = rounds.map(of);
      return { seconds: round(median(runs)), photos_per_s: perSecond(median(runs)), runs_s: runs.map((x) => round(x)) };
    };
    const queued = (of: (r: (typeof rounds)[number]) => QueueRun) => ({ ...local((r) => of(r).seconds), worker_cores: round(median(rounds.map((r) => of(r).workerCores))) });
    const featuresFigures = (of: (r: (typeof rounds)[number]) => { local: number; queued: QueueRun }) => {
      const inProcess = local((r) => of(r).local);
      const onQueue2 = queued((r) => of(r).queued);
      return { in_process_threads_2: inProcess, queue_2_workers_threads_1: { ...onQueue2, shard_size: Number(shardSize) }, queue_vs_in_process: round(inProcess.seconds / onQueue2.seconds) };
    };
    const augmentLocal = local((r) => r.augmentLocal);
    const augmentOne = queued((r) => r.augmentOne);
    const augmentTwo = queued((r) => r.augmentTwo);
    const oneShard = median(rounds.map((r) => r.oneShard.seconds));
    const manyShards = median(rounds.map((r) => r.manyShards.seconds));

    return {
      photos: images,
      note: `wall time of each producer command, upstream stages cached: the median of ${ROUNDS} rounds; photos per second`,
      features: { flattened_map: featuresFigures((r) => r.flattened), average_pooled: featuresFigures((r) => r.pooled), target: 'within 10% (>= 0.9)' },
      augment_resize_150: {
        in_process_workers_2: augmentLocal,
        queue_1_worker_workers_1: augmentOne,
        queue_2_workers_workers_1: augmentTwo,
        two_vs_one_process: round(augmentOne.seconds / augmentTwo.seconds),
        two_processes_vs_in_process_workers_2: round(augmentLocal.seconds / augmentTwo.seconds),
        target: 'two processes >= 1.8x one',
      },
      overhead_per_shard_s: { value: round((manyShards - oneShard) / extraShards, 3), photos: OVERHEAD_PHOTOS, one_shard_s: round(oneShard), shards: extraShards + 1, many_shards_s: round(manyShards) },
    };
  } finally {
    await stopWorkers(workers);
    await redis.kill();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const count = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  process.stdout.write(`${JSON.stringify(await benchQueue(count), null, 2)}\n`);
}
