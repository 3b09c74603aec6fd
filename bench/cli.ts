import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The command as a deployment runs it: compiled to JavaScript (the Docker image's
 * `node bin/stream-processor.js`). Built inside the repository so that the compiled
 * files resolve the packages in node_modules, the operators package among them (the
 * workspace link `npm ci` makes to operators/, compiled here first into operators/dist).
 * Returns the arguments for `node`.
 */
export function buildCli(): string[] {
  const outDir = join('.cache', 'bench-dist');
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'operators/tsconfig.build.json']);
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', outDir, '--sourceMap', 'false', '--declaration', 'false']);
  return [join(outDir, 'src', 'main.js')];
}
