/** Where the CLI writes; tests pass their own to capture it. */
export interface Output {
  stdout: { write(text: string): boolean };
  stderr: { write(text: string): boolean; isTTY?: boolean; columns?: number };
}

export const processOutput: Output = { stdout: process.stdout, stderr: process.stderr };
