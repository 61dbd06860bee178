import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { fileIOHandler } from '@flowers/core/tf';
import os, { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARED_MOBILENET_DIR } from '../../../shared_folder.ts';
import { runCli } from './run_cli.ts';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'cli-usage-'));

/** One line on stderr, exit 1, and no stage started (no workspace written). */
function expectRejectedBeforeWork(args: string[], message: RegExp): void {
  const cwd = tmp();
  const result = runCli([...args, '--workdir', 'ws'], cwd);
  expect(result.status, result.stderr).toBe(1);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr.trim()).toMatch(message);
  expect(existsSync(path.join(cwd, 'ws', 'artifacts'))).toBe(false);
}

describe('options are checked before any work', () => {
  it('an image size too small for the scratch CNN names the minimum', () => {
    expectRejectedBeforeWork(['train', '--experiment', 'scratch', '--size', '40'], /^error: --size 40 is too small for --head scratch_cnn: it needs at least 46 pixels$/);
  });

  it('out-of-range augmentation parameters name the parameter', () => {
    expectRejectedBeforeWork(['augment', '--augment', 'experiment', '--rotation-range', '-5'], /rotation_range=-5/);
    expectRejectedBeforeWork(['augment', '--zoom-range', '1.5'], /zoom_range=1\.5/);
    expectRejectedBeforeWork(['augment', '--size', '16'], /size 16/);
    expectRejectedBeforeWork(['all', '--experiment', 'scratch-aug', '--fill-mode', 'mirror'], /--fill-mode/);
  });

  it('unknown experiments and bad training values name the flag', () => {
    expectRejectedBeforeWork(['train', '--experiment', 'bogus'], /^error: unknown --experiment 'bogus'/);
    expectRejectedBeforeWork(['train', '--experiment', 'best', '--lr', '0'], /^error: --lr must be a positive number, got 0$/);
    expectRejectedBeforeWork(['train', '--experiment', 'best', '--weights', 'missing.h5'], /^error: weights file not found: .*missing\.h5$/);
  });

  it('an --unfreeze layer the base does not have is named as --unfreeze, before any stage', () => {
    expectRejectedBeforeWork(['train', '--experiment', 'finetune', '--weights', 'nsfwjs-inception', '--unfreeze', 'mixed99'], /^error: --unfreeze: inception_v3 has no layer 'mixed99' \(its fine-tuning default is 'mixed8'\)$/);
  });

  it('an explicit --patience without a validation split is refused', () => {
    expectRejectedBeforeWork(['train', '--experiment', 'best', '--split', '0.8,0,0.2', '--patience', '5'], /^error: early stopping needs a validation split: --patience 5 with --split 0\.8,0,0\.2$/);
  });

  it('an empty --data is refused, not taken for the demo set', () => {
    expectRejectedBeforeWork(['ingest', '--data', ''], /^error: --data is empty: give a folder with one sub-folder of images per class$/);
  });

  it('one augmented view per epoch needs augmented views, and --epoch-views takes 1 or all', () => {
    expectRejectedBeforeWork(['train', '--experiment', 'scratch-aug', '--views', '0'], /^error: --epoch-views 1 takes one augmented view of each photo per epoch, but --views is 0: add --views K or use --epoch-views all$/);
    expectRejectedBeforeWork(['train', '--experiment', 'scratch', '--epoch-views', '2'], /^error: --epoch-views must be 1 \(one augmented view of each photo per epoch\) or all, got '2'$/);
  });

  it('bad weights and widths fail before any stage, in one line naming the file', async () => {
    const dir = tmp();
    const shared = SHARED_MOBILENET_DIR;
    const modelJson = readFileSync(path.join(shared, 'model.json'), 'utf8');
    const weightsBin = readFileSync(path.join(shared, 'weights.bin'));
    const write = (name: string, files: Record<string, string | Buffer>): string => {
      mkdirSync(path.join(dir, name));
      for (const [file, data] of Object.entries(files)) writeFileSync(path.join(dir, name, file), data);
      return path.join(dir, name, Object.keys(files)[0]!);
    };
    const truncatedJson = write('json', { 'model.json': modelJson.slice(0, modelJson.length / 2), 'weights.bin': weightsBin });
    const truncatedBin = write('bin', { 'model.json': modelJson, 'weights.bin': weightsBin.subarray(0, weightsBin.length / 2) });
    const randomH5 = write('h5', { 'weights.h5': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)) });
    const otherNet = path.join(dir, 'other');
    const input = tf.input({ shape: [32, 32, 3] });
    await tf.model({ inputs: input, outputs: tf.layers.conv2d({ filters: 8, kernelSize: 3, name: 'Conv1' }).apply(input) as tf.SymbolicTensor }).save(fileIOHandler(otherNet));
    for (const file of [truncatedJson, truncatedBin, randomH5, path.join(otherNet, 'model.json')]) {
      expectRejectedBeforeWork(['train', '--experiment', 'best', '--weights', file], new RegExp(`^error: .*${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }
    expectRejectedBeforeWork(['train', '--experiment', 'best', '--alpha', '0.6'], /^error: --alpha must be one of 0\.35, 0\.5, 0\.75, 1 for --base mobilenet_v2, got 0\.6$/);
  });

  it('an exception thrown from a callback ends in one error line and exit 1, not a stack trace', () => {
    const cwd = tmp();
    // A module the test preloads throws from a timer, as a late callback in a library might; the
    // timer fires after the command's own work, and keeps the process alive until then.
    writeFileSync(path.join(cwd, 'late.mjs'), "setTimeout(() => { throw new Error('late failure in a callback'); }, 5000);\n");
    const result = runCli(['runs', '--workdir', 'ws'], cwd, { NODE_OPTIONS: `--import ${path.join(cwd, 'late.mjs')}` });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toBe('error: late failure in a callback');
    expect(result.stderr).not.toMatch(/^\s+at |Node\.js v/m);
  });

  it('a backend that cannot load says which and what to use instead', () => {
    const cwd = tmp();
    const result = runCli(['evaluate', '--model', 'm', '--data', 'd', '--backend', 'tensorflow'], cwd);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^error: backend 'tensorflow' cannot load \(.*\); try --backend onnx or --backend wasm$/);
  });
});

describe('inspect', () => {
  it('describes split.arrow as JSON with rows, schema, metadata and counts', () => {
    const cwd = tmp();
    expect(runCli(['ingest', '--workdir', 'ws'], cwd).status).toBe(0);
    const stageDir = path.join(cwd, 'ws', 'artifacts', 'ingest');
    const key = readdirSync(stageDir).find((d) => !d.startsWith('.') && !d.endsWith('.lock'))!;
    const result = runCli(['inspect', path.join('ws', 'artifacts', 'ingest', key, 'split.arrow'), '--json'], cwd);
    expect(result.status, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.rows).toBe(300);
    expect(summary.schema.map((f: { name: string }) => f.name)).toEqual(['path', 'sha256', 'label', 'label_index', 'split', 'width', 'height', 'channels']);
    expect(JSON.parse(summary.metadata.classes)).toEqual(['daisy', 'dandelion', 'rose', 'sunflower', 'tulip']);
    expect(summary.splits).toEqual({ train: 180, validation: 60, test: 60 });
    expect(Object.values(summary.classes)).toEqual([60, 60, 60, 60, 60]);
    expect(summary.numeric.width).toEqual({ min: 64, mean: 64, max: 64 });
    const notArrow = runCli(['inspect', 'ws/demo-data/flowers/rose/rose_000.png'], cwd);
    expect(notArrow.status).toBe(1);
    expect(notArrow.stderr).toMatch(/^error: .*rose_000\.png is not an Arrow IPC file/);
  });
});

describe('locks', () => {
  it('an ownerless lock (left by a full disk) is taken over after a few seconds, saying so while waiting', () => {
    const cwd = tmp();
    expect(runCli(['ingest', '--workdir', 'ws'], cwd).status).toBe(0);
    const stageDir = path.join(cwd, 'ws', 'artifacts', 'ingest');
    const key = readdirSync(stageDir).find((d) => !d.startsWith('.') && !d.endsWith('.lock'))!;
    rmSync(path.join(stageDir, key), { recursive: true });
    // As `mkdir -p WD/artifacts/ingest/KEY.lock && : > WD/artifacts/ingest/KEY.lock/owner` leaves it.
    mkdirSync(path.join(stageDir, `${key}.lock`));
    writeFileSync(path.join(stageDir, `${key}.lock`, 'owner'), '');
    const rerun = runCli(['ingest', '--workdir', 'ws'], cwd);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`waiting for ingest ${key}: ${path.join(stageDir, `${key}.lock`)} is held by nobody (no readable owner file`);
    expect(readdirSync(stageDir).sort()).toEqual([key]);
  }, 60_000);
});

describe('gc', () => {
  it('clears stale locks (no owner for a while, or a dead owner) and keeps live ones', () => {
    const cwd = tmp();
    const plant = (dir: string, owner: string): void => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'owner'), owner);
      const longAgo = new Date(Date.now() - 60_000);
      utimesSync(path.join(dir, 'owner'), longAgo, longAgo);
      utimesSync(dir, longAgo, longAgo);
    };
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    plant(path.join(cwd, 'ws', 'artifacts', 'ingest', 'aaaa.lock'), '');
    plant(path.join(cwd, 'ws', 'runs', '.r.lock'), `${dead}@${hostname()}`);
    plant(path.join(cwd, 'ws', 'artifacts', 'train', 'bbbb.lock'), `${process.pid}@${hostname()}`);
    const gc = runCli(['gc', '--workdir', 'ws'], cwd);
    expect(gc.status, gc.stderr).toBe(0);
    expect(gc.stderr.trim().split('\n').sort()).toEqual(['removed ingest/aaaa.lock', 'removed runs/.r.lock']);
    expect(existsSync(path.join(cwd, 'ws', 'artifacts', 'ingest', 'aaaa.lock'))).toBe(false);
    expect(existsSync(path.join(cwd, 'ws', 'runs', '.r.lock'))).toBe(false);
    expect(existsSync(path.join(cwd, 'ws', 'artifacts', 'train', 'bbbb.lock'))).toBe(true);
  });

  it('keeps an unreferenced artifact with a live reader lease, saying so; a dead or expired lease does not keep one', () => {
    const cwd = tmp();
    const features = path.join(cwd, 'ws', 'artifacts', 'features');
    /** An artifact no run refers to, read by `owner` (if any) whose lease was renewed `age` seconds ago. */
    const plant = (key: string, owner?: string, age = 0): void => {
      mkdirSync(path.join(features, key), { recursive: true });
      writeFileSync(path.join(features, key, 'manifest.json'), '{}');
      if (!owner) return;
      const lease = path.join(cwd, 'ws', 'readers', 'features', key, 'lease');
      mkdirSync(lease, { recursive: true });
      writeFileSync(path.join(lease, 'owner'), owner);
      const renewed = new Date(Date.now() - age * 1000);
      utimesSync(path.join(lease, 'owner'), renewed, renewed);
    };
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    plant('aaaa', `${process.pid}@${hostname()}`);
    plant('bbbb', `${dead}@${hostname()}`);
    plant('cccc', '1@elsewhere.example', 3600);
    plant('dddd');
    const gc = runCli(['gc', '--workdir', 'ws'], cwd);
    expect(gc.status, gc.stderr).toBe(0);
    expect(gc.stderr.trim().split('\n')).toEqual([
      'removed features/bbbb',
      'removed features/cccc',
      'removed features/dddd',
      `kept features/aaaa: in use by process ${process.pid}`,
    ]);
    expect(gc.stdout).toMatch(/\(3 artifact folder\(s\) removed\)$/m);
    expect(readdirSync(features)).toEqual(['aaaa']);
    expect(readdirSync(path.join(cwd, 'ws', 'readers', 'features'))).toEqual(['aaaa']);
    expect(readdirSync(path.join(cwd, 'ws', 'readers', 'features', 'aaaa'))).toEqual(['lease']);
  });
});

describe('--config', () => {
  const withConfig = (config: object): string => {
    const cwd = tmp();
    writeFileSync(path.join(cwd, 'config.json'), JSON.stringify(config));
    return cwd;
  };

  it('refuses an unknown key, naming it and the nearest known key', () => {
    for (const [command, key, nearest] of [['ingest', 'splitt', 'split'], ['train', 'epoch', 'epochs'], ['train', 'learning-rate', 'lr'], ['all', 'warmupEpoch', 'warmupEpochs']] as const) {
      const cwd = withConfig({ [key]: 1 });
      const result = runCli([command, '--config', 'config.json', '--workdir', 'ws'], cwd);
      expect(result.status, result.stderr).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(new RegExp(`^error: unknown key '${key}' in config .*config\\.json: did you mean '${nearest}'\\? \\(keys are the long options of '${command}'\\)$`));
      expect(existsSync(path.join(cwd, 'ws'))).toBe(false);
    }
  });

  it('takes snake_case spellings of known keys (Keras style)', () => {
    const cwd = withConfig({ max_pixels: 0 });
    const result = runCli(['ingest', '--config', 'config.json', '--workdir', 'ws'], cwd);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr.trim()).toMatch(/^error: --max-pixels must be/);
    const train = runCli(['train', '--config', 'config.json', '--workdir', 'ws'], withConfig({ warmup_epochs: 50, epochs: 3 }));
    expect(train.stderr.trim()).toBe('error: --warmup-epochs must be less than --epochs (3), got 50');
  });

  it('refuses a --patience it gives when there is no validation split', () => {
    const cwd = withConfig({ patience: 4, split: '0.8,0,0.2' });
    const result = runCli(['all', '--config', 'config.json', '--workdir', 'ws'], cwd);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('error: early stopping needs a validation split: --patience 4 with --split 0.8,0,0.2');
    expect(existsSync(path.join(cwd, 'ws'))).toBe(false);
  });
});
