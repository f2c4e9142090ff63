/**
 * A writer child for the SIGKILL tests: runs `script` with `args` under this Node, hands every
 * complete line it prints to `onLine` (with the child, so the test can kill it), and resolves
 * `exited` to how it ended and what it wrote to stderr.
 */
import { spawn } from 'node:child_process';

/**
 * @param {string} script
 * @param {string[]} args
 * @param {(line: string, child: import('node:child_process').ChildProcess) => void} onLine
 * @returns {{ child: import('node:child_process').ChildProcess, exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }> }}
 */
export function runChildLines(script, args, onLine) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  let buffered = '';
  child.stdout?.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line, child);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, exited };
}
