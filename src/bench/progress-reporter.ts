/** Ten redraws a second read as live without the terminal costing the benchmark anything. */
const redrawIntervalMs = 100;

interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

/**
 * One status line redrawn in place with `\r` on a terminal, and nothing at all otherwise, so that
 * logs and pipes (CI, `--json`, the peer orchestrator) never fill with progress noise.
 */
export class ProgressReporter {
  readonly enabled: boolean;
  private lastDrawMs = 0;
  private drawn = false;

  constructor(private readonly stream: ProgressStream = process.stderr) {
    this.enabled = stream.isTTY === true;
  }

  update(label: string, fraction: number, detail = ''): void {
    if (!this.enabled) return;
    const nowMs = Date.now();
    if (nowMs - this.lastDrawMs < redrawIntervalMs) return;
    this.lastDrawMs = nowMs;
    const percent = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
    const line = `${label} ${String(percent).padStart(3)}% ${detail}`;
    // Cut to the width so that the line never wraps; a wrapped line cannot be redrawn with \r.
    const widthMax = Math.max(1, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r${line.slice(0, widthMax).padEnd(widthMax)}`);
    this.drawn = true;
  }

  /** Clears the status line so that the next output starts on a clean line. */
  clear(): void {
    if (!this.enabled || !this.drawn) return;
    const widthMax = Math.max(1, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r${' '.repeat(widthMax)}\r`);
    this.drawn = false;
    this.lastDrawMs = 0;
  }
}
