import path from 'node:path';
import { copyFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { type Artifact, runStage, toBool, toChoice, toInt, toNumber, UserError } from '@flowers/core';
import {
  AUGMENT_PRESETS,
  FILL_MODES,
  augmentCodeVersion,
  produceAugment,
  validateAugmentParams,
  type AugmentParams,
  type AugmentStageParams,
} from '@flowers/augment';
import { AUGMENT_PREVIEW_FILE, SPLIT_FILE } from '@flowers/core/contracts';
import { resolvePath, type PipelineContext } from './context.ts';
import { type OptionValues } from './options.ts';

export const AUGMENT_DEFAULTS: OptionValues = { size: 150, views: 0, augment: 'none' };

/** Keras ImageDataGenerator parameter -> the option key commander gives its flag. */
const KERAS_OPTION_KEYS: Record<keyof AugmentParams, string> = {
  rotation_range: 'rotationRange',
  width_shift_range: 'widthShiftRange',
  height_shift_range: 'heightShiftRange',
  shear_range: 'shearRange',
  zoom_range: 'zoomRange',
  horizontal_flip: 'horizontalFlip',
  vertical_flip: 'verticalFlip',
  fill_mode: 'fillMode',
  cval: 'cval',
};

export function addAugmentOptions(command: Command): Command {
  return command
    .option('--size <px>', 'image side in pixels (default: 150)')
    .option('--views <k>', 'augmented views per training image (default: 0)')
    .addOption(new Option('--augment <preset>', "augmentation preset: 'none' or 'experiment' (Keras: rotation 40, shifts 0.2, shear 0.2, zoom 0.2, horizontal flip)"))
    .option('--rotation-range <deg>', 'Keras rotation_range, degrees')
    .option('--width-shift-range <f>', 'Keras width_shift_range, fraction of width')
    .option('--height-shift-range <f>', 'Keras height_shift_range, fraction of height')
    .option('--shear-range <deg>', 'Keras shear_range, degrees')
    .option('--zoom-range <z>', 'Keras zoom_range: zoom drawn from [1-z, 1+z]')
    .option('--horizontal-flip', 'Keras horizontal_flip')
    .option('--no-horizontal-flip', 'no horizontal flips')
    .option('--vertical-flip', 'Keras vertical_flip')
    .option('--no-vertical-flip', 'no vertical flips')
    .addOption(new Option('--fill-mode <mode>', 'Keras fill_mode').choices([...FILL_MODES]))
    .option('--cval <v>', "fill value for --fill-mode constant (0-255)");
}

export function augmentParamsFrom(values: OptionValues, seed: number): AugmentStageParams {
  const preset = AUGMENT_PRESETS[toChoice(values.augment, 'augment', ['none', 'experiment'] as const)];
  const keras: Record<string, unknown> = { ...preset };
  for (const [kerasName, key] of Object.entries(KERAS_OPTION_KEYS)) {
    const value = values[key];
    if (value === undefined) continue;
    keras[kerasName] =
      kerasName === 'fill_mode' ? toChoice(value, key, FILL_MODES) : kerasName.endsWith('_flip') ? toBool(value, key) : toNumber(value, key);
  }
  const params: AugmentStageParams = { size: toInt(values.size, 'size'), views: toInt(values.views, 'views', 0, 1000), augment: keras as unknown as AugmentParams, seed };
  try {
    validateAugmentParams(params.augment, params.size);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  if (params.views > 0 && JSON.stringify(params.augment) === JSON.stringify(AUGMENT_PRESETS.none)) {
    throw new UserError(`--views ${params.views} asks for augmented views but no augmentation is set: add --augment experiment or Keras parameters such as --rotation-range`);
  }
  return params;
}

export async function ensureAugment(context: PipelineContext, values: OptionValues, ingest: Artifact): Promise<Artifact> {
  const params = augmentParamsFrom(values, context.options.seed);
  // Keyed on the split's content too: an ingest redone under its key (files unreadable last time) may hold more images.
  const split = ingest.manifest.outputs.find((o) => o.file === SPLIT_FILE)!.sha256;
  const artifact = await runStage(
    context.workspace,
    { stage: 'augment', codeVersion: await augmentCodeVersion(), params, inputs: { ingest: ingest.manifest.key, split } },
    ({ dir }) => produceAugment(dir, path.join(ingest.dir, SPLIT_FILE), params, { workers: context.options.workers, log: context.log }),
    { log: context.log, force: context.options.force.has('augment') },
  );
  if (typeof values.preview === 'string') await copyPreview(values.preview, artifact);
  return artifact;
}

/** `--preview FILE`: a copy of the preview the augment stage made (one training image and its views as a PNG grid). */
async function copyPreview(file: string, augment: Artifact): Promise<void> {
  const target = resolvePath(file);
  await copyFile(path.join(augment.dir, AUGMENT_PREVIEW_FILE), target);
  process.stdout.write(`${target}\n`);
}
