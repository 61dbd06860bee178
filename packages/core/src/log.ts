/**
 * Everything for people goes to stderr (logs, banners, progress); stdout carries only results,
 * so `--json` output can be piped.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const stderrLogger: Logger = {
  info: (message) => process.stderr.write(`${message}\n`),
  warn: (message) => process.stderr.write(`warning: ${message}\n`),
};

/** A logger that keeps lines in memory (tests, or callers that print a summary later). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`) };
}

export interface Progress {
  tick(count?: number): void;
  done(): void;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/**
 * A progress bar with rate and ETA on a TTY; plain lines every few seconds otherwise (CI logs).
 */
export function startProgress(label: string, total: number, unit = 'items', stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = performance.now();
  let count = 0;
  let lastDraw = 0;
  const interactive = Boolean(stream.isTTY);
  const minInterval = interactive ? 100 : 10_000;
  const render = (final: boolean): void => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = count / Math.max(elapsed, 1e-9);
    const eta = (total - count) / rate;
    const fraction = total > 0 ? count / total : 1;
    if (interactive) {
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      stream.write(`\r${label} [${bar}] ${count}/${total} ${rate.toFixed(1)} ${unit}/s ETA ${formatDuration(eta)}${final ? '\n' : ''}`);
    } else {
      const tail = final ? `done in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`;
      stream.write(`${label}: ${count}/${total} (${Math.round(fraction * 100)}%) ${rate.toFixed(1)} ${unit}/s ${tail}\n`);
    }
  };
  return {
    tick(n = 1) {
      count += n;
      const now = performance.now();
      if (now - lastDraw >= minInterval) {
        lastDraw = now;
        render(false);
      }
    },
    done() {
      render(true);
    },
  };
}
