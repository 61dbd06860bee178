import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, UserError, type Logger } from '@flowers/core';
import type { SelectedBackend } from '@flowers/core/tf';
import { IMAGE_EXTENSIONS, scanDataset } from '@flowers/ingest';
import { classificationReport, meanOfViews, mirrorImage, predictClasses, type ClassificationReport } from '@flowers/core';
import { metricsJson, ttaMetricsOf, type MetricsJson } from '@flowers/core/contracts';
import { decodeForModel, loadClassifier, type Classifier } from './inference.ts';

const isImage = (file: string): boolean => (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());

/** The class probabilities of each image and, with test-time augmentation, their mean with its mirror image's. */
async function classifyImages(classifier: Classifier, images: Uint8Array[], tta: boolean): Promise<{ plain: Float32Array[]; tta?: Float32Array[] }> {
  const plain = await classifier.classify(images);
  if (!tta) return { plain };
  const mirrored = await classifier.classify(images.map((image) => mirrorImage(image, classifier.meta.inputSize)));
  return { plain, tta: plain.map((p, i) => meanOfViews(p, mirrored[i]!)) };
}

/** Runs a trained model over a labelled folder of class folders (classes matched by name). */
export async function evaluateFolder(
  modelDir: string,
  dataDir: string,
  backend: SelectedBackend,
  log: Logger,
  { tta = false }: { tta?: boolean } = {},
): Promise<{ metrics: MetricsJson; report: ClassificationReport; skipped: Array<{ path: string; reason: string }> }> {
  const classifier = await loadClassifier(modelDir, backend, log);
  try {
    const dataset = await scanDataset(dataDir);
    const [firstIgnored] = dataset.ignored;
    if (firstIgnored) log.warn(`skipped ${dataset.ignored.length} file(s) or folder(s) in ${dataDir}: ${firstIgnored.path}: ${firstIgnored.reason}`);
    const unknown = dataset.classes.filter((c) => !classifier.meta.classes.includes(c));
    if (unknown.length) {
      throw new UserError(`${dataDir} has classes the model does not know: ${unknown.join(', ')} (the model knows ${classifier.meta.classes.join(', ')})`);
    }
    const yTrue: number[] = [];
    const probabilities: number[][] = [];
    const ttaProbabilities: number[][] = [];
    const skipped: Array<{ path: string; reason: string }> = [];
    const CHUNK = 64;
    for (let start = 0; start < dataset.files.length; start += CHUNK) {
      const chunk = dataset.files.slice(start, start + CHUNK);
      const decoded = await Promise.all(chunk.map((f) => decodeForModel(path.join(dataDir, f.path), classifier.meta).catch((error: unknown) => errorMessage(error))));
      const good = chunk.flatMap((f, i) => (typeof decoded[i] === 'string' ? (skipped.push({ path: f.path, reason: decoded[i] as string }), []) : [{ f, pixels: decoded[i] as Uint8Array }]));
      const probs = await classifyImages(classifier, good.map((g) => g.pixels), tta);
      good.forEach((g, i) => {
        yTrue.push(classifier.meta.classes.indexOf(g.f.label));
        probabilities.push(Array.from(probs.plain[i]!));
        if (probs.tta) ttaProbabilities.push(Array.from(probs.tta[i]!));
      });
    }
    if (skipped.length) log.warn(`skipped ${skipped.length} unreadable image(s): ${skipped[0]!.path}: ${skipped[0]!.reason}`);
    if (!yTrue.length) throw new UserError(`no readable images in ${dataDir}`);
    const classes = classifier.meta.classes;
    const metrics = metricsJson(yTrue, probabilities, classes);
    return {
      metrics: tta ? { ...metrics, tta: ttaMetricsOf(metricsJson(yTrue, ttaProbabilities, classes)) } : metrics,
      report: classificationReport(yTrue, predictClasses(probabilities), classes),
      skipped,
    };
  } finally {
    classifier.dispose();
  }
}

/** The image files the inputs name (folders are searched), and the folders that hold none. */
async function expandImagePaths(inputs: string[]): Promise<{ files: string[]; emptyFolders: string[] }> {
  const files: string[] = [];
  const emptyFolders: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined);
    if (info?.isDirectory()) {
      const entries = await readdir(input, { recursive: true, withFileTypes: true });
      const images = entries
        .filter((e) => e.isFile() && isImage(e.name) && !path.relative(input, path.join(e.parentPath, e.name)).split(path.sep).some((p) => p.startsWith('.')))
        .map((e) => path.join(e.parentPath, e.name))
        .sort();
      if (!images.length) emptyFolders.push(input);
      files.push(...images);
    } else {
      files.push(input);
    }
  }
  return { files, emptyFolders };
}

export interface PredictLine {
  path: string;
  label?: string;
  probability?: number;
  top?: Array<[string, number]>;
  error?: string;
}

/**
 * One result per image, in order; an unreadable file (or a folder without images) gives a line
 * with `error` and the rest go on. Fails once every input has failed: nothing was classified.
 */
export async function* predictPaths(classifier: Classifier, inputs: string[], { topK = 3, tta = false }: { topK?: number; tta?: boolean } = {}): AsyncGenerator<PredictLine> {
  const { files, emptyFolders } = await expandImagePaths(inputs);
  if (!files.length) throw new UserError(`no images in ${emptyFolders.join(', ')} (looked for ${IMAGE_EXTENSIONS.join(', ')})`);
  for (const folder of emptyFolders) yield { path: folder, error: 'no images in this folder' };
  let classified = 0;
  for (const file of files) {
    let pixels: Uint8Array;
    try {
      pixels = await decodeForModel(file, classifier.meta);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      yield { path: file, error: code === 'ENOENT' ? 'no such file' : `cannot read image: ${errorMessage(error).split('\n')[0]}` };
      continue;
    }
    const scores = await classifyImages(classifier, [pixels], tta);
    const probs = (scores.tta ?? scores.plain)[0]!;
    const ranked = Array.from(probs, (p, i) => [classifier.meta.classes[i]!, Math.round(p * 1e6) / 1e6] as [string, number]).sort((a, b) => b[1] - a[1]);
    classified++;
    yield { path: file, label: ranked[0]![0], probability: ranked[0]![1], top: ranked.slice(0, topK) };
  }
  if (!classified) throw new UserError(`no image could be classified: all ${files.length} input file(s) failed (see the error lines on stdout)`);
}
