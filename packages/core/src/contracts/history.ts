/** The train stage's `history.json`: one record per epoch trained, rewritten after every epoch. */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic.ts';
import { UserError } from '../errors.ts';

export const HISTORY_FILE = 'history.json';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
  /** With test-time augmentation: validation accuracy on the mean of each photo's and its mirror's probabilities. */
  val_accuracy_tta?: number;
  lr: number;
  seconds: number;
  /** Two-phase fine-tuning: 'head' for the epochs that trained the head alone, 'finetune' after. */
  phase?: 'head' | 'finetune';
}

/** One history of a head phase then a fine-tuning phase, numbered on from the head's epochs. */
export function joinPhases(head: readonly EpochRecord[], finetune: readonly EpochRecord[]): EpochRecord[] {
  return [
    ...head.map((record) => ({ ...record, phase: 'head' as const })),
    ...finetune.map((record) => ({ ...record, epoch: head.length + record.epoch, phase: 'finetune' as const })),
  ];
}

export async function writeHistory(file: string, history: readonly EpochRecord[]): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(history, null, 2));
}

export async function readHistory(file: string): Promise<EpochRecord[]> {
  const history = JSON.parse(await readFile(file, 'utf8')) as unknown;
  if (!Array.isArray(history)) throw new UserError(`${file}: a training history must be a list of epochs`);
  return history as EpochRecord[];
}
