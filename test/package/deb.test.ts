/**
 * `make package-test`: each Debian package that `make package` built (build/package/) is checked
 * as a gateway would receive it, without the repository:
 * - a second build from the same commit gives the same bytes (reproducible);
 * - its payload is what README's install path promises, for its architecture only, and its SBOM
 *   lists exactly the npm packages it installs, the runtime and the addon;
 * - installed into a scratch root (`dpkg-deb -x`, what `dpkg -i` unpacks), the packaged agent runs
 *   on the packaged Node (arm64: under qemu-aarch64-static with the arm64 Node and addon; the
 *   cross libc of Debian's libc6-arm64-cross stands in for the gateway's own) against hw-sim on a
 *   pseudo-terminal and a real Mosquitto with mutual TLS, and a subscriber receives the decoded
 *   observations and the NEWS2 score.
 * Nothing here builds the package: run `make package` first (`make package-test` and `make test` do).
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bom } from '../support/evidence/sbom';
import { ARCHES, buildDeb, CONFFILES, debFileName, defaultInputs, installedNpmPackages, LAYOUT, sourceDateEpoch } from '../support/package/build-deb';
import type { DebArch } from '../support/package/build-deb';
import { debOf, PACKAGE_DIR, packagedNode, startOximeterBed, startPackagedAgent, unpackDeb } from '../support/package/installed';
import { until } from '../support/observer';
import type { Received } from '../support/observer';
import { ROOT, writeAgentConfig } from '../support/processes';

// Two package builds and an agent under emulation: longer than the suite's per-file timeout.
t.setTimeout(900_000);

const ARCH_LIST = Object.keys(ARCHES) as DebArch[];
/** ELF e_machine of each architecture (System V ABI): x86-64 62, AArch64 183. */
const ELF_MACHINE: Record<DebArch, number> = { amd64: 62, arm64: 183 };

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const elfMachine = (file: string): number => readFileSync(file).readUInt16LE(18);

for (const arch of ARCH_LIST) {
  t.test(`REQ-INST-001 ${arch}: a second build from the same commit gives the same package, byte for byte`, async (t) => {
    const first = debOf(arch);
    const out = mkdtempSync(join(tmpdir(), `vigil-repro-${arch}-`));
    const again = buildDeb({ arch, ...defaultInputs(arch), outDir: out, workDir: join(out, 'work'), sourceDateEpoch: sourceDateEpoch() });
    t.equal(again.sha256, sha256(first), `${debFileName(arch)} rebuilt in ${out} has the same SHA-256`);
    t.equal(readFileSync(again.sbom, 'utf8'), readFileSync(join(PACKAGE_DIR, debFileName(arch).replace(/\.deb$/, '.cdx.json')), 'utf8'), 'and the same SBOM');
  });

  t.test(`REQ-INST-002 ${arch}: the package installs the agent, its runtime and system integration, for ${arch} only`, async (t) => {
    const deb = debOf(arch);
    const field = (name: string): string => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
    t.equal(field('Package'), 'vigil');
    t.equal(field('Architecture'), arch);
    const depends = field('Depends');
    t.match(depends, /libc6 \(>= 2\.28\)/, 'the glibc the official Node binary needs');
    t.notMatch(depends, /\b(nodejs|npm|rustc|cargo|gcc(-\d+)?|mosquitto)\b/, 'no compiler, npm, Node or broker from the distribution');
    const conffiles = execFileSync('sh', ['-c', `dpkg-deb --ctrl-tarfile ${deb} | tar -xOf - ./conffiles`], { encoding: 'utf8' }).trim().split('\n');
    t.same(conffiles, CONFFILES, 'the files a site edits are conffiles');
    const { root, remove } = unpackDeb(arch);
    t.teardown(remove);
    for (const path of [LAYOUT.unit, LAYOUT.sysusers, LAYOUT.tmpfiles, LAYOUT.udev, LAYOUT.config, LAYOUT.brokerExample, LAYOUT.schema, '/usr/bin/vigil', '/usr/bin/hw-sim', `${LAYOUT.doc}/sbom.cdx.json`, `${LAYOUT.app}/proto/vigil/v1/vigil.proto`]) {
      t.ok(existsSync(join(root, path)), `${path} is installed`);
    }
    // Everything native is for this architecture: the runtime, the addon, the npm prebuilds.
    const node = join(root, LAYOUT.runtime, 'bin', 'node');
    t.equal(elfMachine(node), ELF_MACHINE[arch], 'the Node runtime is built for it');
    const addon = join(root, LAYOUT.app, 'native', 'binding', `vigil-native.linux-${ARCHES[arch].node}-gnu.node`);
    t.equal(elfMachine(addon), ELF_MACHINE[arch], 'the addon is built for it');
    const natives: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.node')) natives.push(p);
      }
    };
    walk(join(root, LAYOUT.app, 'node_modules'));
    t.ok(natives.length >= 2, 'the npm packages bring their prebuilt binaries (serialport, classic-level)');
    const foreign = natives.filter((f) => !f.includes(`/prebuilds/linux-${ARCHES[arch].node}/`));
    t.same(foreign, [], 'and only those of linux-' + ARCHES[arch].node);
    t.ok(natives.some((f) => /glibc|classic-level/.test(f) && elfMachine(f) === ELF_MACHINE[arch]), 'which are ELF files of this architecture');
    // The SBOM lists exactly what is installed.
    const bom = JSON.parse(readFileSync(join(root, LAYOUT.doc, 'sbom.cdx.json'), 'utf8')) as Bom;
    const listed = [...new Set(bom.components.filter((c) => c.purl?.startsWith('pkg:npm/') && !c.purl.startsWith('pkg:npm/node-linux-')).map((c) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`))].sort();
    t.same(listed, installedNpmPackages(join(root, LAYOUT.app, 'node_modules')), 'the SBOM\'s npm packages are the installed ones');
    const pin = JSON.parse(readFileSync(join(ROOT, 'agent', 'packaging', 'node-runtime.json'), 'utf8')) as { version: string };
    const runtime = bom.components.find((c) => c.group === 'nodejs' && c.name === 'node');
    t.equal(runtime?.version, pin.version, 'the SBOM names the pinned Node runtime');
    t.equal(runtime?.hashes?.[0]?.content, sha256(node), 'with the installed binary\'s hash');
    const addonEntry = bom.components.find((c) => c.properties?.some((p) => p.name === 'vigil:shipped' && p.value.startsWith('the native addon')));
    t.equal(addonEntry?.hashes?.[0]?.content, sha256(addon), 'and the installed addon\'s hash');
    t.match(JSON.stringify(bom.metadata.properties), ARCHES[arch].rust, 'the addon\'s crates are those of this target');
  });

  t.test(`REQ-INST-003 ${arch}: the packaged agent runs from a scratch root against hw-sim and a real Mosquitto (TLS); a subscriber gets observations and NEWS2`, async (t) => {
    const { root, remove } = unpackDeb(arch);
    t.teardown(remove);
    const node = packagedNode(arch, root);
    const cli = join(root, LAYOUT.app, 'dist', 'agent', 'src', 'cli.js');
    const version = execFileSync(node[0]!, [...node.slice(1), cli, '--version'], { encoding: 'utf8', timeout: 120_000 });
    const pin = JSON.parse(readFileSync(join(ROOT, 'agent', 'packaging', 'node-runtime.json'), 'utf8')) as { version: string };
    t.match(version, new RegExp(`^node v?${pin.version.replace(/\./g, '\\.')}$`, 'm'), '`vigil --version` runs on the packaged runtime, the pinned release');

    const gatewayId = `gw-pkg-${arch}`;
    const { bed, pki, broker, sub, sim } = await startOximeterBed({ gatewayId, bedId: `bed-${arch}`, seed: 11, periodMs: 500 }, (fn) => t.teardown(fn));
    const dir = mkdtempSync(join(tmpdir(), `vigil-pkg-agent-${arch}-`));
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls: pki.clientTls(gatewayId), gatewayId, bedId: bed.bedId });
    // Started as the installed unit's ExecStart starts it, with the scratch root in place of /.
    const agent = startPackagedAgent(arch, root, config, dir);
    t.teardown(() => agent.stop());
    const logs = agent.logs;
    const values = (got: Received[], p: string) => got.filter((r) => r.topic.endsWith(`/obs/${p}`) && r.env.observation?.hasValue).map((r) => r.env.observation!);
    try {
      await until('SpO2 and pulse from the packaged agent', () => values(sub.got, 'spo2').length >= 3 && values(sub.got, 'pulseRate').length >= 3, 180_000);
    } catch (err) {
      t.comment(logs.slice(-30).join('\n'));
      throw err;
    }
    const truth = new Set(sim.frames.map((f) => f.spo2Percent));
    for (const o of values(sub.got, 'spo2').slice(0, 3)) {
      t.ok(truth.has(o.value), `SpO2 ${o.value} is a value hw-sim sent`);
      t.equal(o.unitUcum, '%');
      t.equal(o.status, 'RESULT_STATUS_FINAL');
    }
    const score = await until('a NEWS2 score', () => [...sub.got].reverse().find((r) => r.env.score)?.env.score, 60_000);
    t.equal(score.complete, false, 'NEWS2 is scored, incomplete with only SpO2 and pulse');
    t.same(score.missing, ['respRatePerMin', 'onOxygen', 'systolicMmHg', 'consciousness', 'tempCelsius']);
    t.ok(sub.got.every((r) => r.env.gatewayId === gatewayId), 'everything came from the packaged agent');
    t.equal(agent.process.exitCode, null, 'the packaged agent is still running');
  });
}
