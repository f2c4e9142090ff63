// Spawns one trial (bench/trial.js) in a fresh Node process and returns its one JSON line. Both
// suites of bench/run.js go through here, so every row of every table has the same protocol.
import { execFile } from 'node:child_process';

/**
 * A trial is capped at 15 s of work plus a 30 s open-loop drain; three minutes means it hangs,
 * and a hung peer must become an error row rather than stop the comparison.
 */
export const trialTimeoutMs = 180_000;
/** A trial prints one line of JSON; 64 MiB of output means something else went wrong. */
const trialOutputBytesMax = 64 * 1024 * 1024;

export function runTrial(args) {
  return new Promise((resolve) => {
    const trialPath = new URL('./trial.js', import.meta.url).pathname;
    execFile(
      process.execPath,
      [trialPath, ...args],
      { timeout: trialTimeoutMs, killSignal: 'SIGKILL', maxBuffer: trialOutputBytesMax },
      (error, stdout, stderr) => {
        const lastLine = stdout.trim().split('\n').pop();
        try {
          resolve(JSON.parse(lastLine));
        } catch {
          const reason = error?.killed ? `killed after ${trialTimeoutMs / 1000} s` : String(error?.message ?? 'no JSON line');
          resolve({ ok: false, error: `${reason}\n${stderr.slice(-2000)}` });
        }
      },
    );
  });
}
