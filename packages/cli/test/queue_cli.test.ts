import { cpSync, existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stopWorkers, useRedisSuite, type WorkerProcess } from '../../queue/test/fixtures.ts';
import { freePort } from '../../queue/test/redis_server.ts';
import { artifactDir, copyPhotoSubset, expectSameDataFiles, runPipelineAsync, SHARED_MOBILENET, spawnPipeline, spawnPipelineWorker } from './queue_fixtures.ts';
import { runCli } from './run_cli.ts';

/** Small images through MobileNetV2 0.35 on one thread: the stage's work, at test size. */
const FEATURES = ['--base', 'mobilenet_v2', '--alpha', '0.35', '--weights', SHARED_MOBILENET, '--size', '32', '--views', '0', '--workers', '1', '--threads', '1', '--backend', 'onnx'];

describe('the pipeline over the queue (pipeline worker processes, loopback Redis)', () => {
  const suite = useRedisSuite();

  const startWorkers = async (count: number, workdir: string): Promise<WorkerProcess[]> => {
    suite.workers = Array.from({ length: count }, () => spawnPipelineWorker(suite.redis.url, workdir, suite.dir));
    await Promise.all(suite.workers.map((w) => w.waitFor(/^worker .* serving/, 60_000)));
    return suite.workers;
  };

  it('features over the shared photos on three workers, one SIGKILLed mid-shard: its shard is retried, merged once, as one process writes it', async () => {
    const data = copyPhotoSubset(path.join(suite.dir, 'photos-200'), 40);
    const local = path.join(suite.dir, 'features-local');
    const queued = path.join(suite.dir, 'features-queue');
    // With the cut activations and the pretrained top above the cut, which the merge joins too.
    const features = [...FEATURES, '--cut', 'default'];
    const reference = await runPipelineAsync(['features', '--data', data, '--workdir', local, ...features], suite.dir);
    expect(reference.status, reference.output).toBe(0);
    // The same ingest and augment artifacts (same keys), so that only features go to the queue.
    for (const stage of ['ingest', 'augment']) cpSync(path.join(local, 'artifacts', stage), path.join(queued, 'artifacts', stage), { recursive: true });

    const [victim, ...survivors] = await startWorkers(3, queued);
    const producer = spawnPipeline(['features', '--data', data, '--workdir', queued, ...features, '--queue', suite.redis.url, '--shard-size', '32'], suite.dir);
    const started = await victim!.waitFor(/^started features shard/, 120_000);
    victim!.child.kill('SIGKILL');
    const shard = /shard (\d+) /.exec(started)![1];
    const { code } = await producer.exited;
    expect(code, producer.output()).toBe(0);
    expect(producer.output()).toMatch(/queued \d+ shards/);

    expectSameDataFiles(artifactDir(queued, 'features'), artifactDir(local, 'features'));
    expect(existsSync(path.join(artifactDir(queued, 'features'), 'cut', 'top', 'model.json'))).toBe(true);
    const survivorLog = survivors.map((w) => w.output()).join('\n');
    expect(victim!.output()).not.toMatch(new RegExp(`^done features shard ${shard} `, 'm'));
    expect(survivorLog).toMatch(new RegExp(`^started features shard ${shard} `, 'm'));
    expect(survivorLog).toMatch(new RegExp(`^done features shard ${shard} `, 'm'));
    expect(survivorLog.match(/^done features merge /gm)).toHaveLength(1);
    expect(readFileSync(path.join(artifactDir(queued, 'features'), 'manifest.json'), 'utf8')).not.toContain(suite.redis.url);
  });

  it('ingest and augment over the queue equal a local run byte for byte, an image skipped by one shard included', async () => {
    const data = copyPhotoSubset(path.join(suite.dir, 'photos-40'), 8);
    // A whole-second time, which setting it again after the change below restores exactly.
    const changed = path.join(data, 'rose', '10090824183_d02c613f10_m.jpg');
    utimesSync(changed, 1_700_000_000, 1_700_000_000);
    const local = path.join(suite.dir, 'augment-local');
    const queued = path.join(suite.dir, 'augment-queue');
    const options = ['--data', data, '--workers', '1'];
    const augmentOptions = [...options, '--size', '32', '--views', '2', '--augment', 'experiment'];
    await startWorkers(2, queued);
    const queueOptions = ['--queue', suite.redis.url, '--shard-size', '7'];
    const [localIngest, queuedIngest] = await Promise.all([
      runPipelineAsync(['ingest', '--workdir', local, ...options], suite.dir),
      runPipelineAsync(['ingest', '--workdir', queued, ...options, ...queueOptions], suite.dir),
    ]);
    expect(localIngest.status, localIngest.output).toBe(0);
    expect(queuedIngest.status, queuedIngest.output).toBe(0);
    expectSameDataFiles(artifactDir(queued, 'ingest'), artifactDir(local, 'ingest'));

    // A photo changed since ingest (same size and time, so ingest stays cached): augment skips it.
    const bytes = readFileSync(changed);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(changed, bytes);
    utimesSync(changed, 1_700_000_000, 1_700_000_000);

    const localAugment = await runPipelineAsync(['augment', '--workdir', local, ...augmentOptions], suite.dir);
    expect(localAugment.status, localAugment.output).toBe(0);
    const queuedAugment = await runPipelineAsync(['augment', '--workdir', queued, ...augmentOptions, ...queueOptions], suite.dir);
    expect(queuedAugment.status, queuedAugment.output).toBe(0);
    expect(queuedAugment.output).toMatch(/cached ingest/);
    const reference = artifactDir(local, 'augment');
    expect(JSON.parse(readFileSync(path.join(reference, 'augment-report.json'), 'utf8')).skipped).toHaveLength(1);
    expectSameDataFiles(artifactDir(queued, 'augment'), reference);
    // SIGTERM: an idle worker stops cleanly.
    await stopWorkers(suite.workers);
    for (const worker of suite.workers) {
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect(worker.output()).toMatch(/^worker stopped$/m);
    }
  });

  it('all --queue on the demo set writes the data files a local all writes', async () => {
    const local = path.join(suite.dir, 'all-local');
    const queued = path.join(suite.dir, 'all-queue');
    // The best preset, small: 2 head epochs, then 2 epochs of fine-tuning from the cut activations, over every view.
    const options = [...FEATURES, '--epoch-views', 'all', '--head-epochs', '2', '--epochs', '2', '--warmup-epochs', '0', '--run', 'r'];
    const reference = await runPipelineAsync(['all', '--workdir', local, ...options], suite.dir);
    expect(reference.status, reference.output).toBe(0);
    await startWorkers(2, queued);
    // The demo set the local run generated, so that both read the same photos at the same path.
    const run = await runPipelineAsync(['all', '--workdir', queued, '--data', path.join(local, 'demo-data', 'flowers'), ...options, '--queue', suite.redis.url, '--shard-size', '96'], suite.dir);
    expect(run.status, run.output).toBe(0);
    for (const stage of ['ingest', 'augment', 'features', 'train']) expect(run.output).toMatch(new RegExp(`${stage} \\w+: queued`));
    for (const stage of ['ingest', 'augment', 'features']) expectSameDataFiles(artifactDir(queued, stage), artifactDir(local, stage));
    // The training history records each epoch's seconds besides its metrics.
    const untimed = (text: string): unknown => (JSON.parse(text) as Array<Record<string, unknown>>).map(({ seconds: _s, ...epoch }) => epoch);
    expectSameDataFiles(artifactDir(queued, 'train'), artifactDir(local, 'train'), { 'history.json': untimed });
  });

  it('a bad --queue URL or an unreachable Redis: one line, non-zero exit, within seconds, and no password shown', async () => {
    const port = await freePort();
    for (const [url, message] of [
      ['http://127.0.0.1:6379', /^error: --queue: unsupported scheme http:/],
      [`redis://:s3cret@127.0.0.1:${port}`, /^error: cannot use Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: connection refused/],
    ] as const) {
      for (const args of [['features', '--queue', url, ...FEATURES], ['worker', '--queue', url]]) {
        const started = performance.now();
        const result = runCli(args, suite.dir);
        expect(result.status, result.stderr).toBe(1);
        expect(performance.now() - started).toBeLessThan(15_000);
        const lines = result.stderr.trim().split('\n');
        expect(lines.at(-1)).toMatch(message);
        expect(result.stderr).not.toContain('s3cret');
      }
    }
  });
});
