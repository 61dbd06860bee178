/**
 * A worker process's stop signal: the first SIGTERM or Ctrl-C lets the running jobs finish (no
 * new one starts); a second exits at once, leaving them to the other workers' stalled check.
 */
export function workerStopSignal(): AbortSignal {
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return stop.signal;
}
