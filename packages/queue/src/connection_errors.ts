import { errorMessage, type Logger } from '@flowers/core';

/**
 * BullMQ's clients repeat a connection error on every retry while Redis is down (and print a
 * stack when nobody listens): say it once every few seconds instead, as one line.
 */
export function reportConnectionErrors(log: Logger): (error: Error) => void {
  let last = '';
  let lastAt = -Infinity;
  return (error) => {
    const message = errorMessage(error);
    if (message === last && performance.now() - lastAt < 10_000) return;
    last = message;
    lastAt = performance.now();
    log.warn(`queue: ${message} (retrying)`);
  };
}
