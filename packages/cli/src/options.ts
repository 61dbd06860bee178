import { Option, type Command } from 'commander';
import { BACKEND_REQUESTS } from '@flowers/core/tf';
import { FILL_MODES } from '@flowers/augment';
import { BASE_NAMES } from '@flowers/features';
import { PIPELINE_DEFAULTS } from '@flowers/pipeline';
import { HEAD_KINDS, INPUT_KINDS, OPTIMIZER_NAMES, SCHEDULE_NAMES } from '@flowers/train';

export type OptionValues = Record<string, unknown>;

export interface LayeredOptions {
  values: OptionValues;
  /** Keys whose value the user gave (a flag or the config file), not a preset or a default. */
  explicit: ReadonlySet<string>;
}

/**
 * Layers option values: a flag given on the command line wins over the config file, which wins
 * over the experiment preset, which wins over the built-in default.
 */
export function layerOptions(command: Command, config: OptionValues, preset: OptionValues, defaults: OptionValues): LayeredOptions {
  const given = command.opts();
  const keys = new Set([...Object.keys(defaults), ...Object.keys(preset), ...Object.keys(config), ...Object.keys(given)]);
  const values: OptionValues = {};
  const explicit = new Set<string>();
  for (const key of keys) {
    const flag = command.getOptionValueSource(key) === 'cli' && given[key] !== undefined;
    if (flag || config[key] !== undefined) explicit.add(key);
    if (flag) values[key] = given[key];
    else if (config[key] !== undefined) values[key] = config[key];
    else if (preset[key] !== undefined) values[key] = preset[key];
    else values[key] = defaults[key];
  }
  return { values, explicit };
}

/** Levenshtein distance, case-insensitive. */
function editDistance(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  let previous = Array.from({ length: y.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[y.length]!;
}

/** The candidate closest to `name` by edit distance (the first of equals). */
export function nearestName(name: string, candidates: readonly string[]): string {
  return candidates.reduce((best, candidate) => (editDistance(name, candidate) < editDistance(name, best) ? candidate : best));
}

export function addCommonOptions(command: Command): Command {
  return command
    .option('--workdir <dir>', `workspace for artifacts and runs (default: ${PIPELINE_DEFAULTS.workdir})`)
    .option('--run <name>', 'run name (default: <experiment>-<timestamp>)')
    .option('--seed <n>', `random seed for split, augmentation and training (default: ${PIPELINE_DEFAULTS.seed})`)
    .option('--workers <n>', `worker threads (default: number of cores, ${PIPELINE_DEFAULTS.workers})`)
    .option('--force', "recompute this command's stage even if it is cached (all: every stage)")
    .option('--verify', 'also re-hash cached artifacts against their manifests (a mismatch is rebuilt)')
    .option('--config <file>', 'JSON file with option values (flags win over it)');
}

export function addIngestOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'dataset: a folder with one sub-folder of images per class (default: ./data/flowers, else a synthetic demo set)')
    .option('--split <fractions>', `train,validation,test fractions (default: ${PIPELINE_DEFAULTS.split})`)
    .addOption(new Option('--max-pixels <n>', 'skip images with more pixels than this').hideHelp());
}

export function addAugmentOptions(command: Command): Command {
  return command
    .option('--size <px>', `image side in pixels (default: ${PIPELINE_DEFAULTS.size})`)
    .option('--views <k>', `augmented views per training image (default: ${PIPELINE_DEFAULTS.views})`)
    .option('--tta', 'test-time augmentation: also the mirror image of each validation and test photo; training reports its figures with it (the mean of the probabilities of the photo and its mirror) beside the plain ones')
    .option('--no-tta', 'no test-time augmentation')
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

/** --backend, as every model command takes it. */
export function backendOption(): Option {
  return new Option('--backend <name>', "compute engine: auto (the fastest that loads: tensorflow, then onnx, then wasm, then cpu), tensorflow, onnx, wasm or cpu").choices([...BACKEND_REQUESTS]);
}

export function addFeaturesOptions(command: Command): Command {
  return command
    .addOption(new Option('--base <name>', `pretrained convolutional base (default: ${PIPELINE_DEFAULTS.base})`).choices([...BASE_NAMES]))
    .option('--alpha <a>', 'MobileNetV2 width multiplier: 0.35, 0.5, 0.75 or 1.0')
    .addOption(new Option('--pool <mode>', "'avg' (global average pooling) or 'none' (the flattened map, as the experiment's Flatten)").choices(['avg', 'none']))
    .option('--weights <w>', "'auto' (ImageNet, else the base bundled with nsfwjs), 'imagenet', 'nsfwjs-inception', 'nsfwjs-mobilenet-v2', or a path to a Keras .h5 file or a TF.js model.json")
    .option('--cut <layer>', "also cache activations at this inner layer for fine-tuning ('default': the base's fine-tuning cut)")
    .option('--inference-batch <n>', `images per forward pass (default: ${PIPELINE_DEFAULTS.inferenceBatch}, one record batch)`)
    .addOption(backendOption())
    .option('--threads <n>', 'ONNX Runtime threads in all (default: one per core)')
    .addOption(new Option('--onnx-sessions <n>', "ONNX Runtime sessions for the base, instead of its tuned layout").hideHelp());
}

export function addTrainOptions(command: Command): Command {
  return command
    .addOption(new Option('--input <kind>', "what the model reads: 'pixels', 'features' (frozen base) or 'cut' (fine-tune the top of the base)").choices([...INPUT_KINDS]))
    .addOption(new Option('--head <kind>', 'model on top of the input').choices([...HEAD_KINDS]))
    .option('--unfreeze <layer>', "fine-tuning: train the base above this layer ('default': the base's usual cut, InceptionV3 mixed8)")
    .option('--epochs <n>', 'training epochs')
    .option('--head-epochs <n>', 'fine-tuning: first train the head alone on the base features for this many epochs (0 = start from a random head)')
    .option('--head-lr <rate>', 'fine-tuning: the learning rate of those head epochs')
    .option('--freeze-batch-norm', "fine-tuning: run the base's batch norms on their moving statistics, gamma and beta frozen, instead of each batch's statistics")
    .option('--no-freeze-batch-norm', "fine-tuning: normalise by each batch's statistics (momentum 0.9)")
    .option('--batch-size <n>', 'training batch size')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZER_NAMES]))
    .option('--lr <rate>', 'learning rate')
    .option('--weight-decay <w>', 'decoupled weight decay (adamw)')
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices([...SCHEDULE_NAMES]))
    .option('--warmup-epochs <n>', 'linear warm-up epochs for the schedule')
    .option('--label-smoothing <e>', 'label smoothing, 0 to 1')
    .option('--dropout <p>', 'dropout rate of the head')
    .option('--patience <n>', 'early stopping: epochs without a better val_loss (0 = off); restores the best weights')
    .option('--class-weights', 'weight classes by inverse frequency')
    .option('--no-class-weights', 'no class weights')
    .option('--epoch-views <n>', "training rows per epoch: 1 (one augmented view of each photo, as Keras' generators) or all (every view)")
    .option('--rescale <r>', "input scale factor, e.g. '1/255' for pixels")
    .option('--resume', 'continue an interrupted training from its last checkpoint');
}
