import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPredictions } from '@flowers/core/contracts';
import { runCli } from './run_cli.ts';
import { SHARED_MOBILENET } from '../../../shared_folder.ts';


describe('pnpm pipeline train --experiment finetune', () => {
  it('fine-tunes the layers above the cut from the features artifact alone, and the saved model, moved elsewhere, predicts as training did', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-finetune-'));
    const args = ['--base', 'mobilenet_v2', '--alpha', '0.35', '--weights', SHARED_MOBILENET, '--size', '96', '--views', '1', '--epochs', '4', '--batch-size', '16', '--backend', 'wasm', '--unfreeze', 'default'];
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

    // The model, copied to another folder, on the test split's photos (by the paths the
    // predictions carry): evaluate's accuracy is the run's, photo for photo.
    const moved = path.join(cwd, 'elsewhere', 'model');
    cpSync(path.join(cwd, '.pipeline', 'runs', 'ft', 'model'), moved, { recursive: true });
    const train = path.join(cwd, '.pipeline', 'artifacts', 'train', run.artifacts.train);
    const predictions = await readPredictions(path.join(train, 'predictions.arrow'));
    const testSet = path.join(cwd, 'test-photos');
    predictions.paths.forEach((photo, i) => {
      const link = path.join(testSet, predictions.classes[predictions.labels[i]!]!, path.basename(photo));
      mkdirSync(path.dirname(link), { recursive: true });
      symlinkSync(path.join(predictions.dataDir, photo), link);
    });
    const onTest = runCli(['evaluate', '--model', moved, '--data', testSet, '--json', '--backend', 'wasm'], cwd);
    expect(onTest.status, onTest.stderr).toBe(0);
    const trained = JSON.parse(readFileSync(path.join(cwd, '.pipeline', 'runs', 'ft', 'metrics.json'), 'utf8'));
    expect(JSON.parse(onTest.stdout).accuracy).toBeCloseTo(trained.accuracy, 6);
  });
});
