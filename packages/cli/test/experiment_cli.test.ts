import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, SHARED_FLOWERS, spawnCli } from './run_cli.ts';
import { SHARED_MOBILENET } from '../../../shared_folder.ts';

// A quick feature-head experiment on the synthetic demo set with the real ImageNet MobileNetV2.
// The best preset, small: its head alone for 3 epochs, then 3 epochs of fine-tuning the top blocks.
const QUICK = ['--experiment', 'best', '--weights', SHARED_MOBILENET, '--size', '96', '--views', '1', '--head-epochs', '3', '--epochs', '3', '--backend', 'wasm', '--workdir', 'ws'];

/** A moment to press Ctrl-C: stderr matches, or a check (on the file system) holds. */
type Trigger = RegExp | (() => boolean);

/**
 * Runs the CLI and sends it one SIGINT each time the next trigger first holds; resolves with
 * the exit code and stderr.
 */
async function interruptWhen(args: string[], cwd: string, ...triggers: Trigger[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawnCli(args, cwd);
  let stderr = '';
  const pending = [...triggers];
  const check = (): void => {
    const next = pending[0];
    if (next && (next instanceof RegExp ? next.test(stderr) : next())) {
      pending.shift();
      child.kill('SIGINT');
    }
  };
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    check();
  });
  const poll = setInterval(check, 20);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  return { code, stderr };
}

/** True once the stage has started producing (its partial directory exists). */
const stageStarted = (cwd: string, stage: string) => (): boolean =>
  existsSync(path.join(cwd, 'ws', 'artifacts', stage)) && readdirSync(path.join(cwd, 'ws', 'artifacts', stage)).some((e) => e.startsWith('.partial-'));

/** Complete artifacts of a stage. */
const artifactsOf = (cwd: string, stage: string): string[] =>
  existsSync(path.join(cwd, 'ws', 'artifacts', stage)) ? readdirSync(path.join(cwd, 'ws', 'artifacts', stage)).filter((e) => !e.startsWith('.') && !e.includes('.lock')) : [];

describe('experiments end to end on the demo set', () => {
  let cwd: string;
  let first: ReturnType<typeof runCli>;
  beforeAll(() => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-experiment-'));
    first = runCli(['all', ...QUICK, '--run', 'r1'], cwd);
  });

  it('runs every stage, records the run with its model, metrics and report', () => {
    expect(first.status, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout.trim());
    expect(summary.run).toBe('r1');
    const runDir = path.join(cwd, 'ws', 'runs', 'r1');
    const metrics = JSON.parse(readFileSync(path.join(runDir, 'metrics.json'), 'utf8'));
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect(metrics.accuracy).toBeGreaterThanOrEqual(0);
    expect(metrics.accuracy).toBeLessThanOrEqual(1);
    expect(run.metrics.accuracy).toBe(metrics.accuracy);
    expect(summary.accuracy).toBe(metrics.accuracy);
    expect(metrics.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(metrics.n);
    expect(Object.keys(run.artifacts).sort()).toEqual(['augment', 'features', 'ingest', 'train']);
    for (const file of ['model/model.json', 'model/weights.bin', 'model/pipeline-model.json', 'history.json', 'report/report.html']) {
      expect(existsSync(path.join(runDir, file)), file).toBe(true);
    }
    const meta = JSON.parse(readFileSync(path.join(runDir, 'model', 'pipeline-model.json'), 'utf8'));
    expect(meta.classes).toEqual(['daisy', 'dandelion', 'rose', 'sunflower', 'tulip']);
    expect(meta.weights).toBe(SHARED_MOBILENET);
    expect(first.stderr).toContain('backend: wasm');
  });

  it('retrains only the model when only training settings change, and caches an identical rerun', () => {
    const retrain = runCli(['train', ...QUICK, '--epochs', '4', '--run', 'r2'], cwd);
    expect(retrain.status, retrain.stderr).toBe(0);
    for (const stage of ['ingest', 'augment', 'features']) expect(retrain.stderr).toMatch(new RegExp(`^cached ${stage} [0-9a-f]{16}$`, 'm'));
    expect(retrain.stderr).not.toMatch(/^cached train/m);
    expect(retrain.stderr).toMatch(/Epoch 4\/4/);
    const again = runCli(['train', ...QUICK, '--epochs', '4', '--run', 'r2'], cwd);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/^cached train [0-9a-f]{16}$/m);
    expect(again.stderr).toContain("replaced the earlier run 'r2'");
    expect(JSON.parse(again.stdout).accuracy).toBe(JSON.parse(retrain.stdout).accuracy);
    const runs = JSON.parse(runCli(['runs', '--workdir', 'ws', '--json'], cwd).stdout) as Array<{ name: string }>;
    expect(runs.map((r) => r.name).sort()).toEqual(['r1', 'r2']);
  });

  it('evaluates and predicts with the saved model from another directory', () => {
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'cli-elsewhere-'));
    const modelCopy = path.join(elsewhere, 'model');
    cpSync(path.join(cwd, 'ws', 'runs', 'r1', 'model'), modelCopy, { recursive: true });
    const data = path.join(cwd, 'ws', 'demo-data', 'flowers');
    const evaluation = runCli(['evaluate', '--model', 'model', '--data', data, '--json', '--out', 'metrics.json', '--backend', 'wasm'], elsewhere);
    expect(evaluation.status, evaluation.stderr).toBe(0);
    const metrics = JSON.parse(evaluation.stdout);
    expect(metrics.n).toBe(300);
    expect(JSON.parse(readFileSync(path.join(elsewhere, 'metrics.json'), 'utf8'))).toEqual(metrics);
    const text = runCli(['evaluate', '--model', 'model', '--data', data, '--backend', 'wasm'], elsewhere);
    expect(text.stdout).toMatch(/^\s+precision\s+recall\s+f1-score\s+support$/m);
    expect(text.stdout).toMatch(/^\s+accuracy\s+\d\.\d\d\s+300$/m);

    writeFileSync(path.join(elsewhere, 'broken.jpg'), 'not an image');
    const predictions = runCli(['predict', '--model', 'model', path.join(data, 'rose', 'rose_000.png'), 'broken.jpg', '--backend', 'wasm'], elsewhere);
    expect(predictions.status, predictions.stderr).toBe(0);
    const lines = predictions.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].top).toHaveLength(3);
    expect(lines[0].top[0][0]).toBe(lines[0].label);
    expect(lines[0].top.map((t: [string, number]) => t[1]).reduce((a: number, b: number) => a + b, 0)).toBeLessThanOrEqual(1.0001);
    expect(lines[1]).toEqual({ path: path.join(elsewhere, 'broken.jpg'), error: expect.stringMatching(/cannot read image/) });
  });

  it('predict exits non-zero in one line when no input could be classified, and says so for an empty folder', () => {
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'cli-predict-fail-'));
    const model = path.join(cwd, 'ws', 'runs', 'r1', 'model');
    writeFileSync(path.join(elsewhere, 'broken.jpg'), 'not an image');
    mkdirSync(path.join(elsewhere, 'empty'));
    const failed = runCli(['predict', '--model', model, 'broken.jpg', 'missing.png', '--backend', 'wasm'], elsewhere);
    expect(failed.status).toBe(1);
    expect(failed.stdout.trim().split('\n').map((l) => JSON.parse(l).error)).toEqual([expect.stringMatching(/cannot read image/), 'no such file']);
    expect(failed.stderr.trim().split('\n').at(-1)).toBe('error: no image could be classified: all 2 input file(s) failed (see the error lines on stdout)');
    const empty = runCli(['predict', '--model', model, 'empty', '--backend', 'wasm'], elsewhere);
    expect(empty.status).toBe(1);
    expect(empty.stdout).toBe('');
    expect(empty.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^error: no images in ${path.join(elsewhere, 'empty')} \\(looked for \\.jpg, `));
    const mixed = runCli(['predict', '--model', model, 'empty', path.join(cwd, 'ws', 'demo-data', 'flowers', 'rose', 'rose_000.png'), '--backend', 'wasm'], elsewhere);
    expect(mixed.status, mixed.stderr).toBe(0);
    expect(JSON.parse(mixed.stdout.trim().split('\n')[0]!)).toEqual({ path: path.join(elsewhere, 'empty'), error: 'no images in this folder' });
  });

  it('refuses a model directory with missing files and a folder with unknown classes, in one line', () => {
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'cli-bad-model-'));
    cpSync(path.join(cwd, 'ws', 'runs', 'r1', 'model'), path.join(elsewhere, 'model'), { recursive: true });
    rmSync(path.join(elsewhere, 'model', 'pipeline-model.json'));
    const missing = runCli(['predict', '--model', 'model', 'x.jpg', '--backend', 'cpu'], elsewhere);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n').at(-1)).toBe(`error: ${path.join(elsewhere, 'model')} is not a trained model directory: pipeline-model.json is missing`);

    cpSync(path.join(cwd, 'ws', 'runs', 'r1', 'model'), path.join(elsewhere, 'model2'), { recursive: true });
    rmSync(path.join(elsewhere, 'model2', 'weights.bin'));
    const noWeights = runCli(['predict', '--model', 'model2', 'x.jpg', '--backend', 'cpu'], elsewhere);
    expect(noWeights.status).toBe(1);
    expect(noWeights.stderr).toMatch(/weights\.bin/);

    const data = path.join(elsewhere, 'data');
    cpSync(path.join(cwd, 'ws', 'demo-data', 'flowers', 'rose'), path.join(data, 'rose'), { recursive: true });
    mkdirSync(path.join(data, 'orchid'));
    cpSync(path.join(cwd, 'ws', 'demo-data', 'flowers', 'tulip', 'tulip_000.png'), path.join(data, 'orchid', 'o.png'));
    const unknown = runCli(['evaluate', '--model', path.join(cwd, 'ws', 'runs', 'r1', 'model'), '--data', 'data', '--backend', 'cpu'], elsewhere);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^error: .*classes the model does not know: orchid/m);
  });

  it('Ctrl-C stops after the epoch and its checkpoint; --resume ends where an uninterrupted run ends', async () => {
    const long = [...QUICK, '--epochs', '40', '--patience', '0'];
    const { code, stderr } = await interruptWhen(['train', ...long, '--run', 'interrupted'], cwd, /Epoch 2\/40/);
    expect(code).toBe(1);
    const stoppedAt = Number(/interrupted: training stopped after epoch (\d+); rerun with --resume to continue/.exec(stderr)?.[1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(2);
    expect(stoppedAt).toBeLessThan(40);
    expect(existsSync(path.join(cwd, 'ws', 'runs', 'interrupted'))).toBe(false);

    const resumed = runCli(['train', ...long, '--run', 'interrupted', '--resume'], cwd);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming after epoch ${stoppedAt}/40`);
    expect(resumed.stderr).not.toMatch(/Epoch 1\/40/);
    const straight = runCli(['train', ...long, '--run', 'straight', '--force'], cwd);
    expect(straight.status, straight.stderr).toBe(0);
    const metrics = (run: string) => readFileSync(path.join(cwd, 'ws', 'runs', run, 'metrics.json'), 'utf8');
    expect(metrics('interrupted')).toBe(metrics('straight'));
  });

  it('gc removes only artifacts no run refers to and says how much it freed', () => {
    const extra = runCli(['ingest', '--workdir', 'ws', '--seed', '7'], cwd);
    expect(extra.status).toBe(0);
    const ingestKeys = (): string[] => readdirSync(path.join(cwd, 'ws', 'artifacts', 'ingest')).filter((d) => !d.startsWith('.') && !d.endsWith('.lock'));
    expect(ingestKeys()).toHaveLength(2);
    const gc = runCli(['gc', '--workdir', 'ws'], cwd);
    expect(gc.status).toBe(0);
    expect(gc.stdout).toMatch(/^freed \d+(\.\d)? (B|KiB|MiB) \(\d+ artifact folder\(s\) removed\)$/m);
    expect(ingestKeys()).toHaveLength(1);
    const run = JSON.parse(readFileSync(path.join(cwd, 'ws', 'runs', 'r1', 'run.json'), 'utf8'));
    expect(ingestKeys()).toEqual([run.artifacts.ingest]);
    const report = runCli(['report', '--workdir', 'ws', '--run', 'r1'], cwd);
    expect(report.status, report.stderr).toBe(0);
  });
});

describe('training without a validation split', () => {
  it("switches off the preset's early stopping, saying so, and trains every epoch", () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-no-validation-'));
    // The best preset stops after 20 epochs without a better val_loss; there is no val_loss here.
    const result = runCli(['train', ...QUICK, '--epochs', '12', '--split', '0.8,0,0.2', '--run', 'nv'], cwd);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("no validation split (--split 0.8,0,0.2): early stopping (the best preset's --patience 20) is off");
    expect(result.stderr).not.toMatch(/early stopping: val_loss did not improve/);
    const history = JSON.parse(readFileSync(path.join(cwd, 'ws', 'runs', 'nv', 'history.json'), 'utf8')) as unknown[];
    expect(history).toHaveLength(3 + 12);
  });
});

describe('resuming', () => {
  it('says which options differ when --resume finds another interrupted training, and refuses a damaged checkpoint in one line', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-resume-'));
    const long = [...QUICK, '--epochs', '40', '--patience', '0'];
    const { code, stderr } = await interruptWhen(['train', ...long, '--run', 'interrupted'], cwd, /Epoch 2\/40/);
    expect(code, stderr).toBe(1);
    const changed = runCli(['train', ...long, '--epochs', '3', '--run', 'changed', '--resume'], cwd);
    expect(changed.status, changed.stderr).toBe(0);
    expect(changed.stderr).toMatch(/^--resume: the interrupted training in \S+checkpoint had other options \(--epochs was 40, now 3\); training these options from the start/m);

    const trainDir = path.join(cwd, 'ws', 'artifacts', 'train');
    const checkpointDir = path.join(trainDir, readdirSync(trainDir).find((e) => e.startsWith('.partial-'))!, 'checkpoint');
    const optimizerFile = path.join(checkpointDir, JSON.parse(readFileSync(path.join(checkpointDir, 'latest.json'), 'utf8')).dir, 'optimizer.bin');
    writeFileSync(optimizerFile, readFileSync(optimizerFile).subarray(0, -3));
    const damaged = runCli(['train', ...long, '--run', 'interrupted', '--resume'], cwd);
    expect(damaged.status).toBe(1);
    expect(damaged.stderr.trim().split('\n').at(-1)).toBe(`error: checkpoint ${optimizerFile} is damaged (truncated): rerun without --resume`);
  });
});

describe('Ctrl-C before training', () => {
  const FIRST_CTRL_C = 'SIGINT: stopping after the current batch (training: after the current epoch and its checkpoint); press Ctrl-C again to stop at once';

  it('stops ingest between two images and starts no later stage', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-ctrl-c-ingest-'));
    const { code, stderr } = await interruptWhen(['train', ...QUICK, '--data', SHARED_FLOWERS], cwd, stageStarted(cwd, 'ingest'));
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(FIRST_CTRL_C);
    expect(stderr.trim().split('\n').at(-1)).toMatch(/^error: interrupted: ingest stopped after \d+ of \d+ items; nothing unfinished is kept$/);
    expect(artifactsOf(cwd, 'ingest')).toEqual([]);
    expect(existsSync(path.join(cwd, 'ws', 'artifacts', 'augment'))).toBe(false);
  });

  it('stops features between two batches, trains nothing and records no run', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-ctrl-c-features-'));
    const { code, stderr } = await interruptWhen(['all', ...QUICK, '--views', '10'], cwd, stageStarted(cwd, 'features'));
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(FIRST_CTRL_C);
    expect(stderr.trim().split('\n').at(-1)).toMatch(/^error: interrupted: features stopped after \d+ of \d+ items; nothing unfinished is kept$/);
    expect(artifactsOf(cwd, 'augment')).toHaveLength(1);
    expect(artifactsOf(cwd, 'features')).toEqual([]);
    expect(existsSync(path.join(cwd, 'ws', 'artifacts', 'train'))).toBe(false);
    expect(stderr).not.toMatch(/Epoch 1\//);
    expect(existsSync(path.join(cwd, 'ws', 'runs'))).toBe(false);
  });

  it('a second Ctrl-C stops at once with exit code 130', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-ctrl-c-twice-'));
    // Scratch CNN epochs take seconds: the first Ctrl-C alone would wait for the epoch's end.
    const args = ['train', '--experiment', 'scratch', '--size', '64', '--epochs', '3', '--batch-size', '32', '--backend', 'wasm', '--workdir', 'ws'];
    const { code, stderr } = await interruptWhen(args, cwd, /^training scratch_cnn on/m, new RegExp(FIRST_CTRL_C.replace(/[()]/g, '\\$&')));
    expect(code, stderr).toBe(130);
    expect(stderr).not.toMatch(/interrupted: training stopped/);
    expect(artifactsOf(cwd, 'train')).toEqual([]);
  });
});

describe('gc while a pipeline runs', () => {
  /** Output and exit code of a spawned CLI; `onStderr` sees stderr as it grows. */
  function outcome(child: ReturnType<typeof spawnCli>, onStderr: (stderr: string) => void = () => {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr(stderr);
    });
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  }

  it('keeps every artifact the run uses, which finishes and is recorded', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-gc-running-'));
    // The flattened 2x2x1280 MobileNetV2 map under a 512-unit head: about half a second an
    // epoch on wasm, so training lasts far longer than gc's few seconds.
    const args = ['all', '--experiment', 'features', '--base', 'mobilenet_v2', '--alpha', '0.35', '--size', '64', '--weights', SHARED_MOBILENET];
    const pipeline = spawnCli([...args, '--epochs', '60', '--patience', '0', '--backend', 'wasm', '--workdir', 'ws', '--run', 'busy'], cwd);
    let epoch3!: () => void;
    const atEpoch3 = new Promise<void>((resolve) => (epoch3 = resolve));
    const finished = outcome(pipeline, (stderr) => /Epoch 3\//.test(stderr) && epoch3());
    await Promise.race([atEpoch3, finished]);
    const gc = await outcome(spawnCli(['gc', '--workdir', 'ws'], cwd));
    const { code, stderr } = await finished;
    expect(code, stderr).toBe(0);
    expect(gc.code, gc.stderr).toBe(0);
    const run = JSON.parse(readFileSync(path.join(cwd, 'ws', 'runs', 'busy', 'run.json'), 'utf8'));
    for (const stage of ['ingest', 'augment', 'features']) expect(gc.stderr).toContain(`kept ${stage}/${run.artifacts[stage]}: in use by process ${pipeline.pid}\n`);
    // Training was still under way: its key was locked.
    expect(gc.stderr).toContain(`kept train/${run.artifacts.train}: locked by process ${pipeline.pid}\n`);
    expect(gc.stderr).not.toMatch(/^removed /m);
    for (const stage of ['ingest', 'augment', 'features', 'train']) expect(artifactsOf(cwd, stage)).toEqual([run.artifacts[stage]]);
    // Its leases ended with it: now gc has nothing to keep.
    const after = runCli(['gc', '--workdir', 'ws'], cwd);
    expect(after.status, after.stderr).toBe(0);
    expect(after.stderr).not.toMatch(/^kept /m);
  }, 300_000);
});

describe('--tta on the demo set', () => {
  it("writes the photos' mirror images, and reports the validation and test figures with test-time augmentation beside the plain ones", () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-tta-'));
    const result = runCli(['all', ...QUICK, '--tta', '--run', 'tta'], cwd);
    expect(result.status, result.stderr).toBe(0);
    const runDir = path.join(cwd, 'ws', 'runs', 'tta');
    const metrics = JSON.parse(readFileSync(path.join(runDir, 'metrics.json'), 'utf8'));
    expect(metrics.tta.accuracy).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ accuracy: metrics.accuracy, accuracy_tta: metrics.tta.accuracy });
    expect(JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')).metrics.tta.accuracy).toBe(metrics.tta.accuracy);
    const history = JSON.parse(readFileSync(path.join(runDir, 'history.json'), 'utf8')) as Array<Record<string, number>>;
    expect(history.every((epoch) => epoch.val_accuracy_tta! >= 0 && epoch.val_accuracy_tta! <= 1)).toBe(true);
    expect(result.stderr).toMatch(/test accuracy [\d.]+%, [\d.]+% with test-time augmentation on \d+ images/);
    expect(readFileSync(path.join(runDir, 'report', 'report.html'), 'utf8')).toContain(`<span id="test-accuracy-tta">${metrics.tta.accuracy.toFixed(4)}</span>`);
  });
});
