/**
 * `make package`: the Debian package of the gateway, one per architecture, built on this machine.
 *
 *   node dist/test/support/package/build-deb.js --arch amd64|arm64 --addon FILE --runtime DIR --out DIR [--work DIR]
 *
 * What the package installs (README, "Installing on a gateway"; docs/interfaces/systemd.md):
 *   /usr/lib/vigil/node/          the pinned Node.js runtime of that architecture (agent/packaging/node-runtime.json)
 *   /usr/lib/vigil/app/           the agent's and hw-sim's compiled JavaScript, the protobuf schema, the HL7
 *                                 device profiles, the ward board's page (agent/station-web), the native addon
 *                                 of that architecture and the production npm packages (prebuilt binaries of
 *                                 other platforms removed)
 *   /usr/bin/vigil, /usr/bin/hw-sim   wrappers that run them on that runtime
 *   /lib/systemd/system/vigil.service, /usr/lib/sysusers.d/vigil.conf, /usr/lib/tmpfiles.d/vigil.conf
 *   /etc/udev/rules.d/99-vigil-serial.rules, /etc/vigil/vigil.json, /etc/vigil/mosquitto-example.conf (conffiles)
 *   /usr/share/vigil/vigil-config.schema.json, /usr/share/doc/vigil/ (README, copyright, the SBOM)
 *
 * Reproducible: every file's time is SOURCE_DATE_EPOCH (default: the commit's time), owners are
 * root, modes are normalised, and dpkg-deb sorts the archive; two builds from one commit give the
 * same bytes (`make package-test` checks it). The SBOM (CycloneDX 1.5) lists exactly what the
 * package installs: the npm packages found in its node_modules, the crates compiled into its
 * addon (cargo-cyclonedx for that target), the Node runtime, and Vigil itself; the build fails when
 * the npm SBOM and the installed packages disagree.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bom, BomComponent } from '../evidence/sbom';
import { generateCargoBoms, mergeBoms } from '../evidence/sbom';
import { workspaceCrates } from '../evidence/soup';
import { ROOT } from '../processes';

/** Debian architecture -> Node's and Rust's names for it. */
export const ARCHES = {
  amd64: { node: 'x64', rust: 'x86_64-unknown-linux-gnu', gnuTriple: 'x86_64-linux-gnu' },
  arm64: { node: 'arm64', rust: 'aarch64-unknown-linux-gnu', gnuTriple: 'aarch64-linux-gnu' },
} as const;
export type DebArch = keyof typeof ARCHES;

/**
 * Where `make package` leaves each architecture's inputs: the release addon (amd64: the one
 * `make build` built; arm64: cross-built into build/package/addon-arm64) and the pinned runtime
 * (fetch-node.sh into build/runtime/).
 */
export function defaultInputs(arch: DebArch): { addonFile: string; runtimeDir: string } {
  const node = ARCHES[arch].node;
  const version = (JSON.parse(readFileSync(join(ROOT, 'agent', 'packaging', 'node-runtime.json'), 'utf8')) as { version: string }).version;
  return {
    addonFile: arch === 'amd64'
      ? join(ROOT, 'native', 'binding', `vigil-native.linux-${node}-gnu.node`)
      : join(ROOT, 'build', 'package', `addon-${arch}`, `vigil-native.linux-${node}-gnu.node`),
    runtimeDir: join(ROOT, 'build', 'runtime', `node-${version}-linux-${node}`),
  };
}

/** The package file a build of this checkout writes for `arch`. */
export function debFileName(arch: DebArch): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return `vigil_${version}_${arch}.deb`;
}

/** Where things go in the installed system. */
export const LAYOUT = {
  lib: '/usr/lib/vigil',
  runtime: '/usr/lib/vigil/node',
  app: '/usr/lib/vigil/app',
  unit: '/lib/systemd/system/vigil.service',
  sysusers: '/usr/lib/sysusers.d/vigil.conf',
  tmpfiles: '/usr/lib/tmpfiles.d/vigil.conf',
  udev: '/etc/udev/rules.d/99-vigil-serial.rules',
  config: '/etc/vigil/vigil.json',
  brokerExample: '/etc/vigil/mosquitto-example.conf',
  schema: '/usr/share/vigil/vigil-config.schema.json',
  doc: '/usr/share/doc/vigil',
} as const;

/** Files a site edits: kept by dpkg on upgrade (Debian Policy 10.7.3). */
export const CONFFILES = [LAYOUT.udev, LAYOUT.config, LAYOUT.brokerExample];

export interface BuildOptions {
  arch: DebArch;
  /** The addon built for that architecture (release, no test hooks). */
  addonFile: string;
  /** The pinned Node runtime of that architecture (bin/node, LICENSE), from fetch-node.sh. */
  runtimeDir: string;
  outDir: string;
  workDir: string;
  /** Seconds since the epoch for every timestamp in the package. */
  sourceDateEpoch: number;
  log?: (line: string) => void;
}

export interface BuildResult {
  deb: string;
  sbom: string;
  sha256: string;
  version: string;
  installedSizeKiB: number;
}

interface PackageJson {
  name: string;
  version: string;
  description: string;
  license: string;
  dependencies: Record<string, string>;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

function put(root: string, path: string, content: string | Buffer, mode = 0o644): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

function copy(root: string, path: string, from: string, mode = 0o644): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  copyFileSync(from, file);
  chmodSync(file, mode);
}

/** Copies the .js files of a compiled tree (no source maps, no tests). */
function copyJs(fromDir: string, toDir: string): void {
  for (const e of readdirSync(fromDir, { withFileTypes: true })) {
    const from = join(fromDir, e.name);
    if (e.isDirectory()) copyJs(from, join(toDir, e.name));
    else if (e.name.endsWith('.js')) {
      mkdirSync(toDir, { recursive: true });
      copyFileSync(from, join(toDir, e.name));
    }
  }
}

function walk(dir: string, visit: (path: string, isDir: boolean) => void): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(dir, e.name);
    visit(p, e.isDirectory());
    if (e.isDirectory()) walk(p, visit);
  }
}

/**
 * The production npm packages, installed once from the committed lock (`npm ci --omit=dev`, no
 * install scripts: serialport's and classic-level's prebuilt binaries load without them).
 */
export function installProductionModules(workDir: string, log: (s: string) => void): string {
  const dir = join(workDir, 'npm-production');
  const lock = readFileSync(join(ROOT, 'package-lock.json'));
  const stamp = join(dir, '.vigil-lock-sha256');
  const want = createHash('sha256').update(lock).update(readFileSync(join(ROOT, 'package.json'))).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(join(dir, 'node_modules'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  copyFileSync(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
  log('npm ci --omit=dev (production packages from the committed lock)');
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  if (!readFileSync(join(dir, 'package-lock.json')).equals(lock)) throw new Error('npm ci --omit=dev rewrote package-lock.json: the lock is not reproducible');
  writeFileSync(stamp, want);
  return dir;
}

/** Prebuilt binaries of other platforms are left out: `prebuilds/<platform>-<arch>` other than linux-<arch>. */
export function prunePrebuilds(nodeModules: string, nodeArch: string): string[] {
  const removed: string[] = [];
  walk(nodeModules, (p, isDir) => {
    if (!isDir || !p.endsWith('/prebuilds') || !existsSync(p)) return;
    for (const d of readdirSync(p)) {
      if (d !== `linux-${nodeArch}`) {
        rmSync(join(p, d), { recursive: true, force: true });
        removed.push(relative(nodeModules, join(p, d)));
      }
    }
  });
  return removed;
}

/** name@version of every npm package under a node_modules tree (nested ones included). */
export function installedNpmPackages(nodeModules: string): string[] {
  const out = new Set<string>();
  walk(nodeModules, (p, isDir) => {
    if (isDir || !p.endsWith('/package.json')) return;
    const rel = relative(nodeModules, dirname(p)).split('/');
    // node_modules/<name>/package.json or node_modules/@scope/<name>/package.json, at any depth.
    const n = rel.length;
    const isPkg = (n >= 1 && rel[n - 2] === 'node_modules') || n === 1 || (n >= 2 && rel[n - 2]!.startsWith('@') && (n === 2 || rel[n - 3] === 'node_modules'));
    if (!isPkg) return;
    const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
    if (j.name && j.version) out.add(`${j.name}@${j.version}`);
  });
  return [...out].sort();
}

function bomNpmPackages(bom: Bom): string[] {
  return [...new Set(bom.components.filter((c) => c.purl?.startsWith('pkg:npm/')).map((c) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`))].sort();
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The SBOM of one package: npm (cyclonedx-npm on the production install) + the addon's crates for that target + the runtime. */
function packageSbom(o: BuildOptions, pkg: PackageJson, npmDir: string, installedNodeModules: string, runtimeVersion: string): Bom {
  const npmOut = join(o.workDir, `npm-${o.arch}.cdx.json`);
  execFileSync(
    join(ROOT, 'node_modules', '.bin', 'cyclonedx-npm'),
    ['--omit', 'dev', '--flatten-components', '--spec-version', '1.5', '--output-reproducible', '--output-format', 'JSON', '--output-file', npmOut, join(npmDir, 'package.json')],
    { cwd: npmDir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const npmBom = JSON.parse(readFileSync(npmOut, 'utf8')) as Bom;
  const crates = workspaceCrates(join(ROOT, 'native', 'Cargo.toml'));
  const addon = crates.filter((c) => c.cdylib);
  const cargoBoms = generateCargoBoms(addon, crates, [ARCHES[o.arch].rust], join(o.workDir, `cargo-${o.arch}`), String(o.sourceDateEpoch));
  const rustc = /^rustc (\S+)/.exec(run('rustc', ['--version']))?.[1] ?? null;
  const bom = mergeBoms(npmBom, cargoBoms, {
    root: ROOT,
    lock: JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')),
    rustcVersion: rustc,
    timestamp: new Date(o.sourceDateEpoch * 1000).toISOString(),
    generatorName: 'vigil make package',
  });
  // What the package installs and the npm SBOM must be the same set.
  const inBom = bomNpmPackages(bom);
  const installed = installedNpmPackages(installedNodeModules);
  const missing = installed.filter((p) => !inBom.includes(p));
  const extra = inBom.filter((p) => !installed.includes(p));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`SBOM and installed npm packages differ: installed but not listed [${missing.join(', ')}], listed but not installed [${extra.join(', ')}]`);
  }
  const nodeArch = ARCHES[o.arch].node;
  const runtime: BomComponent = {
    type: 'application',
    'bom-ref': `node-linux-${nodeArch}@${runtimeVersion}`,
    name: 'node',
    group: 'nodejs',
    version: runtimeVersion,
    description: `The Node.js runtime (official linux-${nodeArch} binary, from the npm registry package node-linux-${nodeArch}), installed at ${LAYOUT.runtime}.`,
    supplier: { name: 'OpenJS Foundation', url: ['https://nodejs.org'] },
    licenses: [{ license: { id: 'MIT' } }],
    purl: `pkg:npm/node-linux-${nodeArch}@${runtimeVersion}`,
    hashes: [{ alg: 'SHA-256', content: sha256File(join(o.runtimeDir, 'bin', 'node')) }],
    externalReferences: [{ type: 'vcs', url: 'https://github.com/nodejs/node' }],
    properties: [
      { name: 'vigil:shipped', value: 'the runtime the agent runs on' },
      { name: 'vigil:hash-of', value: 'the installed bin/node' },
    ],
  };
  bom.components = [...bom.components, runtime].sort((a, b) => a['bom-ref'].localeCompare(b['bom-ref']));
  const rootRef = (bom.metadata.component as BomComponent)['bom-ref'];
  const rootDeps = bom.dependencies?.find((d) => d.ref === rootRef);
  if (rootDeps) rootDeps.dependsOn = [...(rootDeps.dependsOn ?? []), runtime['bom-ref']].sort();
  bom.dependencies = [...(bom.dependencies ?? []), { ref: runtime['bom-ref'], dependsOn: [] }];
  for (const c of bom.components) {
    if (c.properties?.some((p) => p.name === 'vigil:shipped' && p.value.startsWith('the native addon'))) {
      c.hashes = [{ alg: 'SHA-256', content: sha256File(o.addonFile) }];
      c.properties = [...c.properties.filter((p) => p.name !== 'vigil:hash-of'), { name: 'vigil:hash-of', value: 'the installed addon file' }];
    }
  }
  bom.metadata.properties = [...(bom.metadata.properties ?? []), { name: 'vigil:package', value: `vigil_${pkg.version}_${o.arch}.deb` }];
  return bom;
}

const WRAPPER = (script: string): string => `#!/bin/sh
# Runs ${script} on Vigil's own Node.js runtime (${LAYOUT.runtime}), whatever node the system has.
exec ${LAYOUT.runtime}/bin/node ${LAYOUT.app}/${script} "$@"
`;

const POSTINST = `#!/bin/sh
# The vigil user (dialout member) and its state directory, then udev and systemd are told.
# The service is not enabled here: /etc/vigil/vigil.json must be edited first (README).
set -e
if [ "$1" = configure ]; then
  systemd-sysusers ${LAYOUT.sysusers}
  systemd-tmpfiles --create ${LAYOUT.tmpfiles} || true
  # The config names the certificate files; only root and the agent read it.
  chown root:vigil /etc/vigil /etc/vigil/vigil.json
  chmod 0750 /etc/vigil
  chmod 0640 /etc/vigil/vigil.json
  if [ -d /run/udev ]; then udevadm control --reload-rules || true; fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    # An upgrade restarts a running agent on the new version.
    if systemctl is-active --quiet vigil; then systemctl restart vigil || true; fi
  fi
fi
exit 0
`;

const PRERM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop vigil || true
  systemctl disable vigil || true
fi
exit 0
`;

const POSTRM = `#!/bin/sh
# The state directory (the durable queue: messages not yet confirmed) is kept on remove and on
# purge alike: deleting it would lose accepted data. Remove /var/lib/vigil by hand.
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
`;

export function buildDeb(o: BuildOptions): BuildResult {
  const log = o.log ?? (() => undefined);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  const runtimePin = JSON.parse(readFileSync(join(ROOT, 'agent', 'packaging', 'node-runtime.json'), 'utf8')) as { version: string };
  // The arm64 runtime cannot run natively on amd64: which runtime it is, is the stamp fetch-node.sh wrote.
  const stamp = readFileSync(join(o.runtimeDir, '.vigil-runtime'), 'utf8');
  if (!stamp.startsWith(`node-linux-${ARCHES[o.arch].node}@${runtimePin.version} `)) {
    throw new Error(`${o.runtimeDir} is not the pinned runtime node-linux-${ARCHES[o.arch].node}@${runtimePin.version} (${stamp.trim()})`);
  }
  const root = join(o.workDir, `root-${o.arch}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });

  // ---- runtime ----
  copy(root, `${LAYOUT.runtime}/bin/node`, join(o.runtimeDir, 'bin', 'node'), 0o755);
  copy(root, `${LAYOUT.runtime}/LICENSE`, join(o.runtimeDir, 'LICENSE'));

  // ---- application ----
  const app = join(root, LAYOUT.app);
  copyJs(join(ROOT, 'dist', 'agent', 'src'), join(app, 'dist', 'agent', 'src'));
  copyJs(join(ROOT, 'dist', 'hw-sim', 'src'), join(app, 'dist', 'hw-sim', 'src'));
  cpSync(join(ROOT, 'proto'), join(app, 'proto'), { recursive: true });
  cpSync(join(ROOT, 'agent', 'profiles'), join(app, 'agent', 'profiles'), { recursive: true });
  // The ward board's page, served by `vigil station serve` from <app>/agent/station-web (station/web/server.ts STATIC_DIR).
  cpSync(join(ROOT, 'agent', 'station-web'), join(app, 'agent', 'station-web'), { recursive: true });
  copy(root, `${LAYOUT.app}/native/binding/vigil-native.linux-${ARCHES[o.arch].node}-gnu.node`, o.addonFile, 0o644);
  const appPkg = { name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, private: true, type: 'commonjs', dependencies: pkg.dependencies };
  put(root, `${LAYOUT.app}/package.json`, `${JSON.stringify(appPkg, null, 2)}\n`);
  const npmDir = installProductionModules(o.workDir, log);
  cpSync(join(npmDir, 'node_modules'), join(app, 'node_modules'), { recursive: true });
  rmSync(join(app, 'node_modules', '.package-lock.json'), { force: true });
  rmSync(join(app, 'node_modules', '.bin'), { recursive: true, force: true });
  const pruned = prunePrebuilds(join(app, 'node_modules'), ARCHES[o.arch].node);
  log(`${o.arch}: left out ${pruned.length} prebuilt binary folders of other platforms`);

  // ---- commands, system integration, configuration ----
  put(root, '/usr/bin/vigil', WRAPPER('dist/agent/src/cli.js'), 0o755);
  put(root, '/usr/bin/hw-sim', WRAPPER('dist/hw-sim/src/cli.js'), 0o755);
  copy(root, LAYOUT.unit, join(ROOT, 'agent', 'systemd', 'vigil.service'));
  copy(root, LAYOUT.sysusers, join(ROOT, 'agent', 'systemd', 'vigil.sysusers'));
  copy(root, LAYOUT.tmpfiles, join(ROOT, 'agent', 'systemd', 'vigil.tmpfiles'));
  copy(root, LAYOUT.udev, join(ROOT, 'agent', 'systemd', '99-vigil-serial.rules'));
  copy(root, LAYOUT.config, join(ROOT, 'agent', 'packaging', 'vigil.example.json'));
  copy(root, LAYOUT.brokerExample, join(ROOT, 'docs', 'deploy', 'mosquitto.conf'));
  copy(root, LAYOUT.schema, join(ROOT, 'agent', 'packaging', 'vigil-config.schema.json'));
  copy(root, `${LAYOUT.doc}/README.md`, join(ROOT, 'README.md'));
  put(root, `${LAYOUT.doc}/copyright`, copyrightFile(pkg));

  // ---- SBOM of exactly this payload ----
  const bom = packageSbom(o, pkg, npmDir, join(app, 'node_modules'), runtimePin.version);
  const bomText = `${JSON.stringify(bom, null, 2)}\n`;
  put(root, `${LAYOUT.doc}/sbom.cdx.json`, bomText);

  // ---- control ----
  const installedSizeKiB = duKiB(root);
  const control = [
    `Package: vigil`,
    `Version: ${pkg.version}`,
    `Architecture: ${o.arch}`,
    `Maintainer: The Vigil project <vigil@invalid>`,
    `Installed-Size: ${installedSizeKiB}`,
    // The official Node binary needs glibc 2.28 and libstdc++ (GLIBCXX 3.4.21); the rest is the system's own.
    `Depends: libc6 (>= 2.28), libstdc++6 (>= 6), libgcc-s1 | libgcc1, systemd (>= 247), udev`,
    // hw-sim (a test tool, not the agent) makes its pseudo-terminals with socat; a broker is the site's.
    `Suggests: socat, mosquitto`,
    `Section: misc`,
    `Priority: optional`,
    `Homepage: https://github.com/vigil-gateway/vigil`,
    `Description: Vigil bedside gateway agent`,
    ` Reads medical sensors over serial and the monitor's network port, verifies every value,`,
    ` computes NEWS2 natively and publishes protobuf over MQTT (TLS) to a nurses' station.`,
    ` Ships its own Node.js ${runtimePin.version} runtime and native addon for ${o.arch}: the gateway needs no`,
    ` compiler, no npm and no network to install it.`,
    '',
  ].join('\n');
  put(root, '/DEBIAN/control', control);
  put(root, '/DEBIAN/conffiles', `${CONFFILES.join('\n')}\n`);
  put(root, '/DEBIAN/postinst', POSTINST, 0o755);
  put(root, '/DEBIAN/prerm', PRERM, 0o755);
  put(root, '/DEBIAN/postrm', POSTRM, 0o755);
  const md5: string[] = [];
  walk(root, (p, isDir) => {
    const rel = relative(root, p);
    if (isDir || rel.startsWith('DEBIAN')) return;
    md5.push(`${createHash('md5').update(readFileSync(p)).digest('hex')}  ${rel}`);
  });
  put(root, '/DEBIAN/md5sums', `${md5.join('\n')}\n`);

  // ---- normalise and build ----
  walk(root, (p, isDir) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    chmodSync(p, isDir ? 0o755 : st.mode & 0o111 ? 0o755 : 0o644);
  });
  chmodSync(root, 0o755);
  const t = new Date(o.sourceDateEpoch * 1000);
  walk(root, (p) => {
    if (!lstatSync(p).isSymbolicLink()) utimesSync(p, t, t);
  });
  utimesSync(root, t, t);
  mkdirSync(o.outDir, { recursive: true });
  const deb = join(o.outDir, debFileName(o.arch));
  rmSync(deb, { force: true });
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z9', '--build', root, deb], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(o.sourceDateEpoch) },
  });
  const sbom = join(o.outDir, `vigil_${pkg.version}_${o.arch}.cdx.json`);
  writeFileSync(sbom, bomText);
  return { deb, sbom, sha256: sha256File(deb), version: pkg.version, installedSizeKiB };
}

function duKiB(root: string): number {
  let bytes = 0;
  walk(root, (p, isDir) => {
    if (!isDir) bytes += statSync(p).size;
  });
  return Math.ceil(bytes / 1024);
}

function copyrightFile(pkg: PackageJson): string {
  return [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: vigil',
    '',
    'Files: *',
    `License: ${pkg.license}`,
    '',
    `Files: ${LAYOUT.runtime.slice(1)}/*`,
    'Copyright: Node.js contributors',
    `License: MIT (and the licences of its bundled components: ${LAYOUT.runtime}/LICENSE)`,
    '',
    `Files: ${LAYOUT.app.slice(1)}/node_modules/*`,
    'License: each package\'s own (its package.json and LICENSE file; listed in sbom.cdx.json)',
    '',
  ].join('\n');
}

/** The commit's time: the package's timestamps, unless SOURCE_DATE_EPOCH is set. */
export function sourceDateEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env && /^\d+$/.test(env)) return Number(env);
  try {
    return Number(run('git', ['log', '-1', '--format=%ct'], { cwd: ROOT }).trim());
  } catch {
    throw new Error('SOURCE_DATE_EPOCH is not set and this is not a git checkout');
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string' },
      addon: { type: 'string' },
      runtime: { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'build', 'package') },
      work: { type: 'string', default: join(ROOT, 'build', 'package', 'work') },
    },
  });
  const arch = values.arch as DebArch | undefined;
  if (!arch || !(arch in ARCHES)) {
    process.stderr.write('usage: build-deb --arch amd64|arm64 [--addon FILE] [--runtime DIR] [--out DIR] [--work DIR]\n');
    process.exit(2);
  }
  const inputs = defaultInputs(arch);
  const r = buildDeb({
    arch,
    addonFile: values.addon ?? inputs.addonFile,
    runtimeDir: values.runtime ?? inputs.runtimeDir,
    outDir: values.out!,
    workDir: values.work!,
    sourceDateEpoch: sourceDateEpoch(),
    log: (s) => process.stderr.write(`package: ${s}\n`),
  });
  process.stdout.write(`${r.deb}  sha256 ${r.sha256}  installed ${Math.round(r.installedSizeKiB / 1024)} MiB\n`);
}
