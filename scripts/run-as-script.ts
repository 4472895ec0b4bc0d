import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Runs `main` with the command-line arguments when the module at `moduleUrl`
 * is the script Node was started with, not when a test imports it; its
 * result becomes the exit code and a failure is printed, prefixed by `name`.
 */
export function runAsScript(moduleUrl: string, name: string, main: (args: readonly string[]) => Promise<number>): void {
  const entry = process.argv[1];
  if (entry === undefined) return;
  try {
    if (realpathSync(entry) !== realpathSync(fileURLToPath(moduleUrl))) return;
  } catch {
    return;
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
