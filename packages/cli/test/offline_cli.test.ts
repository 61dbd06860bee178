import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from './run_cli.ts';

/**
 * A fresh machine without internet: an empty weights cache, and every fetch failing the way it
 * does when DNS cannot resolve the host (preloaded into the CLI, so no network is needed to fail).
 */
function offlineEnv(): Record<string, string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-offline-env-'));
  const preload = path.join(dir, 'no-network.mjs');
  writeFileSync(
    preload,
    "globalThis.fetch = async (url) => { throw new TypeError('fetch failed', { cause: new Error(`getaddrinfo ENOTFOUND ${new URL(url).hostname}`) }); };\n",
  );
  const cache = path.join(dir, 'cache');
  return { FLOWERS_PIPELINE_CACHE: cache, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(preload).href}`.trim() };
}

describe('the quick start on a fresh machine without internet', () => {
  it('`pnpm pipeline all` falls back to the MobileNetV2 nsfwjs bundles, warns in one line, and ends with a report', () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-offline-'));
    const env = offlineEnv();
    const result = runCli(['all'], cwd, env);
    expect(result.status, result.stderr).toBe(0);

    const file = 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5';
    const warnings = result.stderr.split('\n').filter((line) => line.startsWith('warning: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^warning: ImageNet weights unavailable \\(download of https://\\S+/${file} failed: getaddrinfo ENOTFOUND storage\\.googleapis\\.com\\); ` +
          'using the MobileNetV2 \\(alpha 1\\.0, not 0\\.35\\) weights bundled with nsfwjs@4\\.2\\.1 mobilenet_v2: .*accuracy will be lower.*' +
          `on a machine with internet and pass --weights /path/to/${file}$`,
      ),
    );

    const workspace = path.join(cwd, '.pipeline');
    const [name] = readdirSync(path.join(workspace, 'runs')).filter((entry) => entry.startsWith('best-'));
    const runDir = path.join(workspace, 'runs', name!);
    expect(existsSync(path.join(runDir, 'report', 'report.html'))).toBe(true);
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect(run.params).toMatchObject({ base: 'mobilenet_v2', alpha: 0.35, weights: 'auto' });
    expect(run.weights).toEqual({
      choice: 'nsfwjs-mobilenet-v2',
      alpha: 1,
      source: 'nsfwjs@4.2.1 mobilenet_v2',
      fallback: { reason: `download of https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/${file} failed: getaddrinfo ENOTFOUND storage.googleapis.com`, requestedAlpha: 0.35 },
    });
    const features = JSON.parse(readFileSync(path.join(workspace, 'artifacts', 'features', run.artifacts.features, 'manifest.json'), 'utf8'));
    // The key knows the weights by their digest, not by the name 'auto' settled on.
    expect(features.params).toMatchObject({ alpha: 1, weights: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/), pixelScaling: expect.anything() } });
    expect(JSON.stringify(features.params)).not.toContain('nsfwjs');
    expect(features.extra).toMatchObject({ alpha: 1, weights: 'nsfwjs-mobilenet-v2', weights_fallback: run.weights.fallback });
    // The saved model names the base it was trained on, so evaluate rebuilds that one, offline too.
    const meta = JSON.parse(readFileSync(path.join(runDir, 'model', 'pipeline-model.json'), 'utf8'));
    expect(meta).toMatchObject({ base: 'mobilenet_v2', alpha: 1, weights: 'nsfwjs-mobilenet-v2' });
    const evaluation = runCli(['evaluate', '--model', path.join(runDir, 'model'), '--data', path.join(workspace, 'demo-data', 'flowers'), '--json'], cwd, env);
    expect(evaluation.status, evaluation.stderr).toBe(0);
    expect(JSON.parse(evaluation.stdout).accuracy).toBeGreaterThan(0.5);
  }, 600_000);
});
