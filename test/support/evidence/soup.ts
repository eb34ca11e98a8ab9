/**
 * The SOUP list (IEC 62304 8.1.2: title, manufacturer, unique designator; 5.3.3 functional and
 * performance requirements; 5.3.4 the hardware and software it needs) generated from
 * docs/soup.yaml (the hand-written parts) and the lock files (the versions).
 *
 * The check: every direct dependency of the shipped product (package.json `dependencies`; the
 * normal dependencies of the Rust crates compiled into the addon) must be covered by an entry,
 * and every package an entry names must still be a dependency. Packages that come in through
 * those (transitive dependencies) are listed under the entry that brings them, from the SBOM's
 * dependency graph. Development tools (devDependencies, Rust build dependencies) are listed
 * apart: they are not part of the product.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EvidenceInputs, SoupItem } from './data';
import type { Gap } from './gaps';
import { gap } from './gaps';
import type { Bom, BomComponent } from './sbom';
import { licenceText, supplierName } from './sbom';
import { cell, code, readText, rel, walkFiles } from './util';

export type DepKind = 'normal' | 'build' | 'dev';

export interface CrateManifest {
  name: string;
  dir: string;
  cdylib: boolean;
  deps: Array<{ name: string; kind: DepKind; path: string | null }>;
}

/** The few shapes of Cargo.toml this workspace uses: [package], [lib], dependency tables. */
export function parseCargoManifest(text: string, dir: string): CrateManifest {
  const m: CrateManifest = { name: '', dir, cdylib: false, deps: [] };
  let section = '';
  let tableDep: { name: string; kind: DepKind; path: string | null } | null = null;
  const kindOf = (s: string): DepKind | null => {
    const t = s.replace(/^target\.(?:'[^']*'|"[^"]*"|[^.]+)\./, '');
    if (t === 'dependencies') return 'normal';
    if (t === 'build-dependencies') return 'build';
    if (t === 'dev-dependencies') return 'dev';
    return null;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      tableDep = null;
      const dotted = /^(.*dependencies)\.([A-Za-z0-9_-]+)$/.exec(section);
      const k = dotted ? kindOf(dotted[1]!) : null;
      if (dotted && k) {
        tableDep = { name: dotted[2]!, kind: k, path: null };
        m.deps.push(tableDep);
      }
      continue;
    }
    const kv = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!;
    const value = kv[2]!;
    if (tableDep) {
      if (key === 'path') tableDep.path = /"([^"]*)"/.exec(value)?.[1] ?? null;
      if (key === 'package') tableDep.name = /"([^"]*)"/.exec(value)?.[1] ?? tableDep.name;
      continue;
    }
    if (section === 'package' && key === 'name') m.name = /"([^"]*)"/.exec(value)?.[1] ?? '';
    if (section === 'lib' && key === 'crate-type' && value.includes('cdylib')) m.cdylib = true;
    const kind = kindOf(section);
    if (kind) {
      const name = key.split('.')[0]!;
      const renamed = /\bpackage\s*=\s*"([^"]*)"/.exec(value)?.[1];
      const path = /\bpath\s*=\s*"([^"]*)"/.exec(value)?.[1] ?? null;
      m.deps.push({ name: renamed ?? name, kind, path });
    }
  }
  return m;
}

export function workspaceCrates(workspaceManifest: string): CrateManifest[] {
  const text = readText(workspaceManifest);
  if (text === null) return [];
  const members = /members\s*=\s*\[([^\]]*)\]/s.exec(text)?.[1] ?? '';
  const out: CrateManifest[] = [];
  for (const m of members.matchAll(/"([^"]+)"/g)) {
    const dir = join(dirname(workspaceManifest), m[1]!);
    const t = readText(join(dir, 'Cargo.toml'));
    if (t !== null) out.push(parseCargoManifest(t, dir));
  }
  return out;
}

export interface DirectDependency {
  ecosystem: 'npm' | 'cargo';
  name: string;
  /** product: shipped or compiled into the addon; tool: development or build only. */
  role: 'product' | 'tool';
  versions: string[];
  /** Who declares it (package.json, or the crate). */
  declaredBy: string;
}

function npmVersion(lock: unknown, name: string): string[] {
  const v = (lock as { packages?: Record<string, { version?: string }> } | null)?.packages?.[`node_modules/${name}`]?.version;
  return v ? [v] : [];
}

function cargoVersions(lockText: string, name: string): string[] {
  const out: string[] = [];
  for (const m of lockText.matchAll(/\[\[package\]\]\s*\nname = "([^"]+)"\s*\nversion = "([^"]+)"/g)) if (m[1] === name) out.push(m[2]!);
  return out;
}

/** The direct dependencies of the product and of its build, from package.json and the Cargo manifests. */
export function directDependencies(inputs: EvidenceInputs): DirectDependency[] {
  const out: DirectDependency[] = [];
  const pkg = JSON.parse(readText(inputs.packageJson) ?? '{}') as Record<string, Record<string, string> | undefined>;
  let lock: unknown = null;
  try {
    lock = JSON.parse(readText(inputs.packageLock) ?? 'null');
  } catch {
    lock = null;
  }
  for (const [field, role] of [
    ['dependencies', 'product'],
    ['optionalDependencies', 'product'],
    ['devDependencies', 'tool'],
  ] as const) {
    for (const name of Object.keys(pkg[field] ?? {}).sort()) {
      out.push({ ecosystem: 'npm', name, role, versions: npmVersion(lock, name), declaredBy: `package.json ${field}` });
    }
  }
  const crates = workspaceCrates(inputs.cargoWorkspace);
  const byDir = new Map(crates.map((c) => [c.dir, c]));
  // The addon: every cdylib crate and the path crates it depends on (normal dependencies).
  const inAddon = new Set<CrateManifest>();
  const visit = (c: CrateManifest): void => {
    if (inAddon.has(c)) return;
    inAddon.add(c);
    for (const d of c.deps) if (d.kind === 'normal' && d.path) {
      const target = byDir.get(join(c.dir, d.path));
      if (target) visit(target);
    }
  };
  for (const c of crates) if (c.cdylib) visit(c);
  const cargoLock = readText(join(dirname(inputs.cargoWorkspace), 'Cargo.lock')) ?? '';
  const seen = new Set<string>();
  for (const c of inAddon) {
    for (const d of c.deps) {
      if (d.path || d.kind === 'dev') continue;
      const role = d.kind === 'normal' ? 'product' : 'tool';
      const key = `${role}:${d.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ ecosystem: 'cargo', name: d.name, role, versions: cargoVersions(cargoLock, d.name), declaredBy: `${c.name} ${d.kind === 'normal' ? 'dependencies' : 'build-dependencies'}` });
    }
  }
  return out;
}

/** Files under agent/src that import an npm package (or a subpath of it). */
export function importersOf(root: string, pkgName: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`(?:from\\s+|require\\(\\s*|import\\(\\s*)['"]${pkgName.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?:/[^'"]*)?['"]`);
  for (const f of walkFiles(join(root, 'agent', 'src'), /\.ts$/)) if (re.test(readFileSync(f, 'utf8'))) out.push(rel(root, f));
  return out;
}

export function checkSoup(inputs: EvidenceInputs, items: SoupItem[], deps: DirectDependency[], env: Record<string, string>): Gap[] {
  const gaps: Gap[] = [];
  const covered = new Map<string, SoupItem>();
  for (const item of items) for (const p of item.packages) covered.set(p, item);
  for (const d of deps.filter((x) => x.role === 'product')) {
    const key = `${d.ecosystem}:${d.name}`;
    if (!covered.has(key)) gaps.push(gap('soup-missing', key, `a dependency of the product (${d.declaredBy}) without an entry in docs/soup.yaml`));
  }
  const productKeys = new Set(deps.filter((d) => d.role === 'product').map((d) => `${d.ecosystem}:${d.name}`));
  for (const item of items) {
    for (const p of item.packages) {
      if (!productKeys.has(p)) gaps.push(gap('soup-stale', `${item.id} ${p}`, 'not a direct dependency of the product any more'));
    }
    if (item.packages.length === 0 && !item.versionFrom) gaps.push(gap('soup-incomplete', item.id, 'names neither packages nor versionFrom: its version is unknown'));
    if (item.versionFrom && !env[item.versionFrom]) gaps.push(gap('soup-incomplete', item.id, `version: the run record has no "${item.versionFrom}"`));
    for (const f of item.usedIn) if (!existsSync(join(inputs.root, f))) gaps.push(gap('soup-incomplete', item.id, `usedIn ${f} does not exist`));
    if (item.usedIn.length > 0) {
      for (const p of item.packages.filter((x) => x.startsWith('npm:'))) {
        for (const f of importersOf(inputs.root, p.slice(4))) {
          if (!item.usedIn.includes(f)) gaps.push(gap('soup-import', `${p} in ${f}`, `imported outside the files docs/soup.yaml names for ${item.id} (${item.usedIn.join(', ')})`));
        }
      }
    }
  }
  return gaps;
}

// ---- rendering --------------------------------------------------------------------------------

function closure(bom: Bom, refs: string[]): BomComponent[] {
  const deps = new Map((bom.dependencies ?? []).map((d) => [d.ref, d.dependsOn ?? []]));
  const byRef = new Map(bom.components.map((c) => [c['bom-ref'], c]));
  const seen = new Set<string>();
  const stack = [...refs];
  while (stack.length > 0) {
    const r = stack.pop()!;
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push(...(deps.get(r) ?? []));
  }
  for (const r of refs) seen.delete(r);
  return [...seen].map((r) => byRef.get(r)).filter((c): c is BomComponent => c !== undefined).sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

function componentsFor(bom: Bom | null, pkg: string): BomComponent[] {
  if (!bom) return [];
  const [eco, name] = [pkg.slice(0, pkg.indexOf(':')), pkg.slice(pkg.indexOf(':') + 1)];
  const prefix = eco === 'npm' ? 'pkg:npm/' : 'pkg:cargo/';
  const purlName = eco === 'npm' ? name.replace('@', '%40') : name;
  return bom.components.filter((c) => c.purl?.startsWith(`${prefix}${purlName}@`) === true);
}

export function renderSoup(items: SoupItem[], deps: DirectDependency[], bom: Bom | null, env: Record<string, string>, when: string): string {
  const versionsOf = (p: string): string[] => deps.find((d) => `${d.ecosystem}:${d.name}` === p)?.versions ?? [];
  const out: string[] = [];
  out.push('# SOUP: software of unknown provenance');
  out.push('');
  out.push('Generated by `make evidence` from `docs/soup.yaml` (the hand-written parts: purpose, requirements,');
  out.push('needs, containment), the lock files (versions) and the SBOM (`sbom.cdx.json`: licences, suppliers,');
  out.push(`hashes, the packages each item brings in). Environment versions are from the test run of ${when}.`);
  out.push('Do not edit by hand. IEC 62304: 8.1.2 (title, manufacturer, unique designator), 5.3.3 (functional and');
  out.push('performance requirements on the SOUP item), 5.3.4 (hardware and software it needs), 7.1.3 (published');
  out.push('anomaly lists). `make evidence` fails when a direct dependency of the product has no entry here.');
  out.push('');
  out.push('| SOUP item | supplier | version | licence | shipped | used in |');
  out.push('|---|---|---|---|---|---|');
  const version = (item: SoupItem): string => {
    if (item.packages.length > 0) return item.packages.map((p) => `${p.slice(p.indexOf(':') + 1)} ${versionsOf(p).join(', ') || '?'}`).join('<br>');
    return item.versionFrom ? (env[item.versionFrom] ?? '?') : '?';
  };
  const licence = (item: SoupItem): string => {
    if (item.licence) return item.licence;
    const l = [...new Set(item.packages.flatMap((p) => componentsFor(bom, p)).map(licenceText))];
    return l.join(', ') || '?';
  };
  for (const item of items) {
    out.push(`| [${cell(item.title)}](#${item.id}) | ${cell(item.supplier)} | ${version(item)} | ${cell(licence(item))} | ${item.shipped ? 'yes' : 'no'} | ${item.usedIn.map(code).join('<br>') || '-'} |`);
  }
  out.push('');
  for (const item of items) {
    out.push(`<a id="${item.id}"></a>`);
    out.push(`## ${item.title}`);
    out.push('');
    out.push(`- **Supplier:** ${item.supplier}`);
    out.push(`- **Version (unique designator):** ${version(item).replace(/<br>/g, '; ')}`);
    out.push(`- **Licence:** ${licence(item)}`);
    out.push(`- **Shipped with the product:** ${item.shipped ? 'yes' : 'no (needed on the machine or by the tests only)'}`);
    out.push(`- **Purpose in Vigil:** ${item.purpose.trim()}`);
    if (item.usedIn.length > 0) out.push(`- **Used in:** ${item.usedIn.map(code).join(', ')}`);
    out.push('- **Functional requirements Vigil places on it:**');
    for (const f of item.functional) out.push(`  - ${f.trim()}`);
    out.push('- **Performance requirements:**');
    for (const p of item.performance) out.push(`  - ${p.trim()}`);
    out.push(`- **Hardware it needs:** ${item.needs.hardware.trim()}`);
    out.push(`- **Software it needs:** ${item.needs.software.trim()}`);
    if (item.why) out.push(`- **Why this one:** ${item.why.trim()}`);
    if (item.containment) out.push(`- **Failure detection and containment:** ${item.containment.trim()}`);
    out.push(`- **Anomaly lists watched:** ${item.anomalies.trim()}`);
    if (item.tests.length > 0) out.push(`- **Verified by:** ${item.tests.map(code).join(', ')}`);
    if (bom && item.packages.length > 0) {
      const roots = item.packages.flatMap((p) => componentsFor(bom, p)).map((c) => c['bom-ref']);
      const brought = closure(bom, roots);
      if (brought.length > 0) {
        out.push(`- **Packages it brings in (${brought.length}, from the SBOM):**`);
        out.push('');
        out.push('  | package | version | licence | supplier |');
        out.push('  |---|---|---|---|');
        for (const c of brought) out.push(`  | ${c.group ? `${c.group}/` : ''}${c.name} | ${c.version} | ${cell(licenceText(c))} | ${cell(supplierName(c))} |`);
      }
    }
    out.push('');
  }
  out.push('## Development tools (not part of the product)');
  out.push('');
  out.push('Used to build or verify Vigil, never shipped: npm `devDependencies` and Rust build dependencies, versions');
  out.push('from the lock files. They are qualified by their use (the build and the test run), not listed as SOUP.');
  out.push('');
  out.push('| tool | version | declared by |');
  out.push('|---|---|---|');
  for (const d of deps.filter((x) => x.role === 'tool')) out.push(`| ${d.ecosystem}: ${d.name} | ${d.versions.join(', ') || '?'} | ${d.declaredBy} |`);
  for (const k of ['cargo-cyclonedx', 'cargo-llvm-cov', 'tap', 'mosquitto', 'openssl'] as const) {
    if (env[k] && !deps.some((d) => d.name === k)) out.push(`| ${k} | ${cell(env[k])} | the test or evidence run |`);
  }
  out.push('');
  return out.join('\n');
}
