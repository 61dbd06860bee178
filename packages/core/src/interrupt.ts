import { AsyncLocalStorage } from 'node:async_hooks';
import { InterruptedError } from './errors.ts';

interface Interruption {
  signal: AbortSignal;
  /** The stage being produced, for the message. */
  stage?: string;
}

// Ambient rather than passed down, so stages whose code takes no signal stop all the same.
const current = new AsyncLocalStorage<Interruption>();

/** Runs `work` so that the stages inside it stop at their next safe point once `signal` aborts. */
export function runInterruptibly<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return current.run({ signal }, work);
}

/** Runs a stage's producer under the interruption in force (if any), naming the stage. */
export function runStageInterruptibly<T>(stage: string, work: () => Promise<T>): Promise<T> {
  const interruption = current.getStore();
  return interruption ? current.run({ ...interruption, stage }, work) : work();
}

/** Throws at a safe point once the surrounding work was interrupted (Ctrl-C); `where` says which point. */
export function stopIfInterrupted(where: string): void {
  const interruption = current.getStore();
  if (!interruption?.signal.aborted) return;
  throw new InterruptedError(`${interruption.stage ?? 'the pipeline'} stopped ${where}; nothing unfinished is kept`);
}
