import { readFileSync } from 'node:fs';

// Read from node_modules directly: not every peer exports its package.json.
export function packageVersion(name) {
  const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}
