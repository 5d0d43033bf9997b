/**
 * `npm run bench -- <name> [args…]`: runs `bench/<name>.ts`, whose default export is
 * `async (args: string[]) => void` and prints its figures.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== 'main.ts' && !file.startsWith('_'))
  .map((file) => file.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [args…]; names: ${available.join(', ') || '(none yet)'}`);
  process.exit(2);
}
const module = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as {
  default: (args: string[]) => Promise<void>;
};
await module.default(args);
