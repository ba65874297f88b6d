import { spawn } from 'node:child_process';

/**
 * Runs Node with `args` in a process of its own to its end (killed after `timeoutMs`): its exit code
 * and what it printed, once both streams have closed.
 *
 * @example
 * ```ts
 * const { code, stdout } = await runNode(['--import', 'tsx', 'examples/demo.ts', '--help']);
 * ```
 */
export function runNode(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
