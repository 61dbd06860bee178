import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from './run_cli.ts';

const SHARED_MOBILENET = fileURLToPath(new URL('../../../../shared/models/mobilenet_v2_0.35_imagenet/model.json', import.meta.url));

describe('pnpm pipeline train --experiment finetune', () => {
  it('fine-tunes the layers above the cut from the features artifact alone, and the saved model evaluates', () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-finetune-'));
    const args = ['--base', 'mobilenet_v2', '--alpha', '0.35', '--weights', SHARED_MOBILENET, '--size', '96', '--views', '1', '--epochs', '4', '--lr', '1e-3', '--batch-size', '16', '--backend', 'wasm', '--unfreeze', 'default'];
    const result = runCli(['train', '--experiment', 'finetune', ...args, '--run', 'ft'], cwd);
    expect(result.status, result.stderr).toBe(0);
    const run = JSON.parse(readFileSync(path.join(cwd, '.pipeline', 'runs', 'ft', 'run.json'), 'utf8'));
    // The pretrained layers above the cut travel in the features artifact, with the weights the activations came from.
    const features = path.join(cwd, '.pipeline', 'artifacts', 'features', run.artifacts.features);
    expect(readdirSync(path.join(features, 'cut'))).toEqual(expect.arrayContaining(['test.arrow', 'top', 'train.arrow', 'validation.arrow']));
    const top = JSON.parse(readFileSync(path.join(features, 'cut', 'top', 'model.json'), 'utf8'));
    expect(top.modelTopology.config.layers[0].config.name).toBe('block_13_project_BN_features');
    const meta = JSON.parse(readFileSync(path.join(cwd, '.pipeline', 'runs', 'ft', 'model', 'pipeline-model.json'), 'utf8'));
    expect(meta).toMatchObject({ base: 'mobilenet_v2', cut: 'block_13_project_BN', input: 'cut', experiment: 'finetune' });
    const evaluation = runCli(['evaluate', '--model', path.join(cwd, '.pipeline', 'runs', 'ft', 'model'), '--data', path.join(cwd, '.pipeline', 'demo-data', 'flowers'), '--json', '--backend', 'wasm'], cwd);
    expect(evaluation.status, evaluation.stderr).toBe(0);
    // Evaluate rebuilds the base below the cut and runs the fine-tuned top: the training set is
    // among these images, so a working model does far better than chance (0.2).
    expect(JSON.parse(evaluation.stdout).accuracy).toBeGreaterThan(0.4);
    expect(existsSync(path.join(features, 'cut', 'top', 'weights.bin'))).toBe(true);
  });
});
