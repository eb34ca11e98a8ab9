/**
 * The SBOM (CycloneDX 1.5 JSON) of what Vigil ships: the npm production dependencies (from
 * @cyclonedx/cyclonedx-npm, `--omit dev`) and the Rust crates compiled into the native addon
 * (from cargo-cyclonedx on the addon crate, `--no-build-deps`, for each target the addon is
 * built for), merged into one document with one dependency graph:
 *
 *   vigil (application) -> npm packages ...
 *                       -> vigil-native (the addon) -> vigil-core, vigil-sys, napi ... -> Rust std
 *
 * The generators' output is completed where it is thin:
 * - hashes: npm records each package's integrity (SHA-512 of the registry tarball) in
 *   package-lock.json; cyclonedx-npm only copies it when the lock also has `resolved` URLs,
 *   so it is taken from the lock here. Cargo's are the SHA-256 of the .crate file (Cargo.lock).
 * - supplier: the owner of the package's declared source repository, else its declared author
 *   (`vigil:supplier-from` says which).
 * - references to local crates are made relative to the repository (no absolute paths).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Gap } from './gaps';
import { gap } from './gaps';
import type { CrateManifest } from './soup';

export interface BomLicense {
  license?: { id?: string; name?: string };
  expression?: string;
}

export interface BomComponent {
  type: string;
  'bom-ref': string;
  name: string;
  group?: string;
  version: string;
  description?: string;
  author?: string;
  supplier?: { name: string; url?: string[] };
  scope?: string;
  hashes?: Array<{ alg: string; content: string }>;
  licenses?: BomLicense[];
  purl?: string;
  externalReferences?: Array<{ type: string; url: string; comment?: string; hashes?: Array<{ alg: string; content: string }> }>;
  properties?: Array<{ name: string; value: string }>;
  components?: BomComponent[];
}

export interface Bom {
  $schema?: string;
  bomFormat: 'CycloneDX';
  specVersion: string;
  serialNumber?: string;
  version: number;
  metadata: {
    timestamp?: string;
    tools?: unknown;
    component?: BomComponent;
    supplier?: { name: string };
    properties?: Array<{ name: string; value: string }>;
  };
  components: BomComponent[];
  dependencies?: Array<{ ref: string; dependsOn?: string[] }>;
}

export function licenceText(c: BomComponent): string {
  return (c.licenses ?? []).map((l) => l.expression ?? l.license?.id ?? l.license?.name ?? '?').join(' AND ') || '';
}

export function supplierName(c: BomComponent): string {
  return c.supplier?.name ?? '';
}

/** SRI integrity (`sha512-<base64>`) -> CycloneDX hash. */
export function sriToHash(sri: string): { alg: string; content: string } | null {
  const m = /^(sha512|sha384|sha256|sha1)-([A-Za-z0-9+/=]+)$/.exec(sri.trim().split(/\s+/)[0] ?? '');
  if (!m) return null;
  const alg = { sha512: 'SHA-512', sha384: 'SHA-384', sha256: 'SHA-256', sha1: 'SHA-1' }[m[1] as 'sha512' | 'sha384' | 'sha256' | 'sha1'];
  return { alg, content: Buffer.from(m[2]!, 'base64').toString('hex') };
}

function ownerOf(url: string): { name: string; url: string } | null {
  const m = /(github\.com|gitlab\.com|codeberg\.org|bitbucket\.org)[/:]([^/]+)\//.exec(url);
  return m ? { name: m[2]!, url: `https://${m[1]}/${m[2]}` } : null;
}

/** The supplier of a component: its repository's owner, else its author (emails removed). */
export function deriveSupplier(c: BomComponent): { supplier: { name: string; url?: string[] }; from: string } | null {
  for (const ref of c.externalReferences ?? []) {
    if (ref.type !== 'vcs' && ref.type !== 'website') continue;
    const o = ownerOf(ref.url);
    if (o) return { supplier: { name: o.name, url: [o.url] }, from: 'repository owner' };
  }
  if (c.author) {
    const name = c.author.replace(/\s*<[^>]*>/g, '').trim();
    if (name) return { supplier: { name }, from: 'author' };
  }
  return null;
}

function addProperty(c: BomComponent, name: string, value: string): void {
  c.properties = [...(c.properties ?? []).filter((p) => p.name !== name), { name, value }];
}

export interface MergeContext {
  /** Absolute repository root, removed from local crate references. */
  root: string;
  /** Parsed package-lock.json. */
  lock: unknown;
  rustcVersion: string | null;
  /** ISO time of the commit the SBOM describes. */
  timestamp: string;
  generatorName: string;
}

function rewriteRef(ref: string, root: string): string {
  return ref.replace(`path+file://${root.replace(/\/$/, '')}/`, 'path+file:');
}

/** Merges the npm SBOM and the cargo SBOMs (one per target) into one document. */
export function mergeBoms(npm: Bom, cargo: Bom[], ctx: MergeContext): Bom {
  const rootComponent: BomComponent = { ...(npm.metadata.component as BomComponent) };
  delete rootComponent.components;
  const rootRef = rootComponent['bom-ref'];
  const components = new Map<string, BomComponent>();
  const deps = new Map<string, Set<string>>();
  const addDeps = (ref: string, on: string[]): void => {
    const set = deps.get(ref) ?? new Set<string>();
    for (const o of on) set.add(o);
    deps.set(ref, set);
  };

  const lockPackages = (ctx.lock as { packages?: Record<string, { integrity?: string }> } | null)?.packages ?? {};
  for (const c0 of npm.components) {
    const c: BomComponent = structuredClone(c0);
    const path = c.properties?.find((p) => p.name === 'cdx:npm:package:path')?.value;
    const integrity = path ? lockPackages[path]?.integrity : undefined;
    const h = integrity ? sriToHash(integrity) : null;
    if (h && !(c.hashes ?? []).some((x) => x.alg === h.alg)) {
      c.hashes = [...(c.hashes ?? []), h];
      addProperty(c, 'vigil:hash-of', 'registry tarball (package-lock.json integrity)');
    }
    addProperty(c, 'vigil:shipped', 'npm production dependency');
    components.set(c['bom-ref'], c);
  }
  for (const d of npm.dependencies ?? []) addDeps(d.ref, d.dependsOn ?? []);

  const addonRefs: string[] = [];
  const targets: string[] = [];
  for (const b of cargo) {
    const target = b.metadata.properties?.find((p) => p.name === 'cdx:rustc:sbom:target:triple')?.value;
    if (target) targets.push(target);
    const top = structuredClone(b.metadata.component as BomComponent);
    delete top.components;
    const topRef = rewriteRef(top['bom-ref'], ctx.root);
    top['bom-ref'] = topRef;
    top.type = 'library';
    addProperty(top, 'vigil:shipped', 'the native addon (Node-API), built from native/');
    if (!addonRefs.includes(topRef)) addonRefs.push(topRef);
    components.set(topRef, { ...(components.get(topRef) ?? {}), ...top });
    for (const c0 of b.components) {
      const c = structuredClone(c0);
      c['bom-ref'] = rewriteRef(c['bom-ref'], ctx.root);
      delete c.components;
      if (c.hashes && c.hashes.length > 0) addProperty(c, 'vigil:hash-of', 'crate archive (Cargo.lock checksum)');
      addProperty(c, 'vigil:shipped', 'compiled into the native addon');
      const known = components.get(c['bom-ref']);
      components.set(c['bom-ref'], known ?? c);
    }
    for (const d of b.dependencies ?? []) addDeps(rewriteRef(d.ref, ctx.root), (d.dependsOn ?? []).map((r) => rewriteRef(r, ctx.root)));
  }
  if (ctx.rustcVersion) {
    const std: BomComponent = {
      type: 'library',
      'bom-ref': `rust-std@${ctx.rustcVersion}`,
      name: 'std',
      group: 'rust-lang',
      version: ctx.rustcVersion,
      description: 'The Rust standard library (core, alloc, std), compiled into the addon by rustc.',
      supplier: { name: 'The Rust Project', url: ['https://www.rust-lang.org'] },
      licenses: [{ expression: 'MIT OR Apache-2.0' }],
      purl: `pkg:generic/rust-lang/std@${ctx.rustcVersion}`,
      externalReferences: [{ type: 'vcs', url: 'https://github.com/rust-lang/rust' }],
      properties: [
        { name: 'vigil:shipped', value: 'compiled into the native addon' },
        { name: 'vigil:hash-of', value: 'none: part of the Rust toolchain, identified by its version' },
      ],
    };
    components.set(std['bom-ref'], std);
    for (const a of addonRefs) addDeps(a, [std['bom-ref']]);
  }
  addDeps(rootRef, addonRefs);

  if (!rootComponent.supplier) rootComponent.supplier = { name: 'the Vigil project' };
  for (const c of components.values()) {
    if (!c.supplier && c['bom-ref'].startsWith('path+file:')) {
      // Vigil's own crates (native/core, sys, binding) come from this repository.
      c.supplier = rootComponent.supplier;
      addProperty(c, 'vigil:supplier-from', 'this repository');
    }
    if (!c.supplier) {
      const s = deriveSupplier(c);
      if (s) {
        c.supplier = s.supplier;
        addProperty(c, 'vigil:supplier-from', s.from);
      }
    }
  }

  const list = [...components.values()].sort((a, b) => a['bom-ref'].localeCompare(b['bom-ref']));
  const dependencies = [rootRef, ...list.map((c) => c['bom-ref'])].map((ref) => ({ ref, dependsOn: [...(deps.get(ref) ?? [])].sort() }));
  const digest = createHash('sha256').update(JSON.stringify({ rootComponent, list, dependencies })).digest('hex');
  const serial = `urn:uuid:${digest.slice(0, 8)}-${digest.slice(8, 12)}-5${digest.slice(13, 16)}-${((parseInt(digest.slice(16, 17), 16) & 3) | 8).toString(16)}${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
  const npmTools = ((npm.metadata.tools as { components?: BomComponent[] } | undefined)?.components ?? []) as BomComponent[];
  const cargoTools = cargo.flatMap((b) => (Array.isArray(b.metadata.tools) ? (b.metadata.tools as Array<{ vendor?: string; name: string; version: string }>) : []));
  const tools = [
    ...npmTools.map((t) => ({ type: t.type, name: t.name, ...(t.group ? { group: t.group } : {}), version: t.version })),
    ...cargoTools.map((t) => ({ type: 'application', name: t.name, ...(t.vendor ? { group: t.vendor } : {}), version: t.version })),
    { type: 'application', name: ctx.generatorName, version: String(rootComponent.version) },
  ].filter((t, i, all) => all.findIndex((u) => u.name === t.name && u.version === t.version) === i);
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: serial,
    version: 1,
    metadata: {
      timestamp: ctx.timestamp,
      tools: { components: tools },
      component: rootComponent,
      properties: targets.length > 0 ? [{ name: 'vigil:addon-targets', value: [...new Set(targets)].join(', ') }] : [],
    },
    components: list,
    dependencies,
  };
}

/** What a regulator's reader needs of every component; missing pieces are `sbom` gaps. */
export function checkBom(bom: Bom): Gap[] {
  const gaps: Gap[] = [];
  const refs = new Set([bom.metadata.component?.['bom-ref'], ...bom.components.map((c) => c['bom-ref'])]);
  for (const c of bom.components) {
    const id = `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`;
    const local = c['bom-ref'].startsWith('path+file:');
    if (!c.version) gaps.push(gap('sbom', id, 'no version'));
    if (!licenceText(c)) gaps.push(gap('sbom', id, 'no licence'));
    if (!c.supplier?.name) gaps.push(gap('sbom', id, 'no supplier (no repository, no author)'));
    if (!local && !c.purl?.startsWith('pkg:generic/') && !(c.hashes ?? []).length) gaps.push(gap('sbom', id, 'no hash'));
  }
  for (const d of bom.dependencies ?? []) {
    if (!refs.has(d.ref)) gaps.push(gap('sbom', d.ref, 'dependency entry for an unknown component'));
    for (const o of d.dependsOn ?? []) if (!refs.has(o)) gaps.push(gap('sbom', d.ref, `depends on unknown ${o}`));
  }
  return gaps;
}

// ---- running the generators -------------------------------------------------------------------

export function generateNpmBom(root: string, outFile: string): Bom {
  mkdirSync(dirname(outFile), { recursive: true });
  const bin = join(root, 'node_modules', '.bin', 'cyclonedx-npm');
  execFileSync(
    bin,
    ['--omit', 'dev', '--flatten-components', '--spec-version', '1.5', '--output-reproducible', '--output-format', 'JSON', '--output-file', outFile, join(root, 'package.json')],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return JSON.parse(readFileSync(outFile, 'utf8')) as Bom;
}

/** One SBOM per addon crate and target; cargo-cyclonedx writes beside each workspace manifest, so the files are moved out at once. */
export function generateCargoBoms(addon: CrateManifest[], allCrates: CrateManifest[], targets: string[], outDir: string, sourceDateEpoch: string): Bom[] {
  mkdirSync(outDir, { recursive: true });
  const boms: Bom[] = [];
  for (const crate of addon) {
    for (const target of targets) {
      const name = `vigil-evidence-sbom-${target}`;
      try {
        execFileSync(
          'cargo',
          ['cyclonedx', '--manifest-path', join(crate.dir, 'Cargo.toml'), '-f', 'json', '--spec-version', '1.5', '--no-build-deps', '--target', target, '--override-filename', name, '-q'],
          { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SOURCE_DATE_EPOCH: sourceDateEpoch } },
        );
        const produced = join(crate.dir, `${name}.json`);
        const kept = join(outDir, `cargo-${crate.name}-${target}.cdx.json`);
        renameSync(produced, kept);
        boms.push(JSON.parse(readFileSync(kept, 'utf8')) as Bom);
      } finally {
        for (const c of allCrates) {
          const stray = join(c.dir, `${name}.json`);
          if (existsSync(stray)) rmSync(stray);
        }
      }
    }
  }
  return boms;
}
