import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run_cli.ts';
import { SHARED_MOBILENET as MOBILENET } from '../../../shared_folder.ts';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'cli-onnx-'));
const FEATURES = ['features', '--base', 'mobilenet_v2', '--alpha', '0.35', '--size', '64', '--pool', 'avg', '--weights', MOBILENET, '--workdir', 'ws'];

/** The features artifacts in a workspace: key -> manifest. */
function featureManifests(cwd: string): Map<string, { backend: string; versions: Record<string, string> }> {
  const dir = path.join(cwd, 'ws', 'artifacts', 'features');
  const keys = readdirSync(dir).filter((d) => !d.startsWith('.') && !d.endsWith('.lock'));
  return new Map(keys.map((key) => [key, JSON.parse(readFileSync(path.join(dir, key, 'manifest.json'), 'utf8'))]));
}

/**
 * A module hook, written by the test, under which `onnxruntime-node` cannot be found: what a
 * user sees where the package or its native library is missing.
 */
function withoutOnnxRuntime(dir: string): Record<string, string> {
  const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'onnxruntime-node') throw Object.assign(new Error("Cannot find package 'onnxruntime-node'"), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}\n`;
  writeFileSync(path.join(dir, 'hook.mjs'), hook);
  writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${path.join(dir, 'hook.mjs')}`).href)});\n`);
  return { NODE_OPTIONS: `--import ${path.join(dir, 'register.mjs')}` };
}

describe('the onnx engine from the command line', () => {
  it('is the default here, says so, and never shares a features key with another engine', () => {
    const cwd = tmp();
    const env = { FLOWERS_PIPELINE_CACHE: path.join(cwd, 'cache') };
    const onnx = runCli(FEATURES, cwd, env);
    expect(onnx.status, onnx.stderr).toBe(0);
    expect(onnx.stderr).toMatch(/^backend: onnx-cpu — ONNX Runtime 1\.30\.0 on cpu \(no CUDA device\), TensorFlow\.js tensors on wasm, since native TensorFlow is unavailable/m);
    expect(onnx.stderr).toContain('features: 2 ONNX Runtime session(s) of 1 thread(s)');
    expect(readdirSync(path.join(cwd, 'cache', 'onnx')).filter((f) => f.endsWith('.onnx'))).toHaveLength(1);

    const wasm = runCli([...FEATURES, '--backend', 'wasm'], cwd, env);
    expect(wasm.status, wasm.stderr).toBe(0);
    const manifests = featureManifests(cwd);
    expect([...manifests.values()].map((m) => m.backend).sort()).toEqual(['onnx-cpu', 'wasm']);
    expect([...manifests.values()].find((m) => m.backend === 'onnx-cpu')!.versions.onnxruntime).toBe('1.30.0');

    // Rerun: a cache hit on the onnx key, and the cached graph is not exported again.
    const again = runCli([...FEATURES, '--backend', 'onnx'], cwd, env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^cached features /m);
    expect(featureManifests(cwd).size).toBe(2);
  });

  it('where ONNX Runtime cannot load: auto falls back in one line, --backend onnx fails in one line before any stage', () => {
    const cwd = tmp();
    const env = withoutOnnxRuntime(cwd);
    const auto = runCli(FEATURES, cwd, env);
    expect(auto.status, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/^backend: wasm — WebAssembly, since native TensorFlow \(.*\) and ONNX Runtime \(onnxruntime-node is not installed\) are unavailable$/m);

    const other = tmp();
    const onnx = runCli([...FEATURES, '--backend', 'onnx'], other, withoutOnnxRuntime(other));
    expect(onnx.status).toBe(1);
    expect(onnx.stderr.trim()).toBe("error: backend 'onnx' cannot load (onnxruntime-node is not installed); try --backend wasm");
    expect(existsSync(path.join(other, 'ws', 'artifacts'))).toBe(false);
  });

  it('rejects a thread count that is not a whole number >= 1 before any stage', () => {
    for (const threads of ['0', '-2', 'many', '1.5']) {
      const cwd = tmp();
      const result = runCli([...FEATURES, '--threads', threads], cwd);
      expect(result.status, result.stderr).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(/^error: --threads must be (a whole number >= 1|a number), got /);
      expect(existsSync(path.join(cwd, 'ws', 'artifacts'))).toBe(false);
    }
  });
});
