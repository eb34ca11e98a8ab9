/**
 * The data files the evidence is generated from, each checked against its schema:
 *
 *   docs/risk/hazards.yaml          hazards, their controls and tests (ISO 14971; owned by the risk file)
 *   docs/requirements.yaml          software requirements: title, derived from, interface, extra tests
 *   docs/interfaces/catalogue.yaml  every interface: kind, boundary code, specification, hazards
 *   docs/soup.yaml                  the hand-written parts of the SOUP list (IEC 62304 8.1.2)
 *
 * A file that is missing or does not fit is a `data` gap (`path: message`), never a crash.
 */
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Gap } from './gaps';
import { gap } from './gaps';
import { readText } from './util';

/** Where the generator reads from; tests point these at temporary copies. */
export interface EvidenceInputs {
  /** Repository root: test sources, agent code and native crates are scanned here (read only). */
  root: string;
  hazards: string;
  requirements: string;
  catalogue: string;
  soup: string;
  packageJson: string;
  packageLock: string;
  /** The Cargo workspace manifest; crate manifests are found from its members. */
  cargoWorkspace: string;
  /** Results of the last `make test`. */
  tapResults: string;
  tapText: string;
  cargoText: string;
  runRecord: string;
  /** The coverage the run measured (LCOV per area, summary.json): build/test/coverage. */
  coverageDir: string;
}

export function defaultInputs(root: string): EvidenceInputs {
  return {
    root,
    hazards: join(root, 'docs', 'risk', 'hazards.yaml'),
    requirements: join(root, 'docs', 'requirements.yaml'),
    catalogue: join(root, 'docs', 'interfaces', 'catalogue.yaml'),
    soup: join(root, 'docs', 'soup.yaml'),
    packageJson: join(root, 'package.json'),
    packageLock: join(root, 'package-lock.json'),
    cargoWorkspace: join(root, 'native', 'Cargo.toml'),
    tapResults: join(root, 'build', 'test', 'tap-results.json'),
    tapText: join(root, 'build', 'test', 'tap.txt'),
    cargoText: join(root, 'build', 'test', 'cargo.txt'),
    runRecord: join(root, 'build', 'test', 'run.json'),
    coverageDir: join(root, 'build', 'test', 'coverage'),
  };
}

// ---- hazards.yaml (the risk file's format; extra fields are allowed) ----------------------
const control = z.object({
  id: z.string().regex(/^CTRL-\d{3}$/, 'must be CTRL-NNN'),
  summary: z.string().min(1),
  code: z.string().default(''),
  requirement: z.string().optional(),
});
const hazard = z.object({
  id: z.string().regex(/^HAZ-\d{3}$/, 'must be HAZ-NNN'),
  title: z.string().min(1),
  cause: z.string().default(''),
  harm: z.string().default(''),
  severity: z.string().default(''),
  controls: z.array(control).nullish().transform((c) => c ?? []),
  tests: z.array(z.string()).nullish().transform((t) => t ?? []),
  /** A design decision the hazard's controls implement, with its reasoning (rendered with the hazard). */
  decision: z.string().optional(),
});
const hazardFile = z.object({ hazards: z.array(hazard) });
export type Hazard = z.infer<typeof hazard>;
export type Control = z.infer<typeof control>;

// ---- requirements.yaml ----------------------------------------------------------------------
/** REQ-<FAMILY>[-<SUB>]-NNN, e.g. REQ-HL7-014, REQ-SYS-HL7-001. */
export const REQ_ID = /\bREQ-[A-Z0-9]+(?:-[A-Z][A-Z0-9]*)*-\d{3}\b/g;
export const HAZ_ID = /\bHAZ-\d{3}\b/g;
const reqId = z.string().regex(/^REQ-[A-Z0-9]+(?:-[A-Z][A-Z0-9]*)*-\d{3}$/, 'must be REQ-FAMILY-NNN');
const source = z.string().regex(/^(CTRL|UN)-\d{3}$/, 'must be a control (CTRL-NNN) or a user need (UN-NNN)');
const requirement = z.strictObject({
  id: reqId,
  title: z.string().min(1),
  /** Added to the group's interfaces when given (a requirement may concern several). */
  interface: z.union([z.string(), z.array(z.string())]).optional(),
  /** Added to the group's sources. */
  derivedFrom: z.array(source).optional(),
  /** Tests that verify it without naming it: exact titles or `*` patterns (tap titles, Rust test paths). */
  tests: z.array(z.string().min(1)).optional(),
});
const group = z.strictObject({
  name: z.string().min(1),
  interface: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  derivedFrom: z.array(source).default([]),
  requirements: z.array(requirement).min(1),
});
const requirementsFile = z.strictObject({
  version: z.literal(1),
  userNeeds: z.array(z.strictObject({ id: z.string().regex(/^UN-\d{3}$/), title: z.string().min(1) })),
  groups: z.array(group),
});
export type UserNeed = z.infer<typeof requirementsFile>['userNeeds'][number];

/** One requirement with its group's defaults applied. */
export interface Requirement {
  id: string;
  title: string;
  group: string;
  interfaces: string[];
  derivedFrom: string[];
  tests: string[];
}

// ---- interfaces/catalogue.yaml --------------------------------------------------------------
const iface = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be kebab-case'),
  name: z.string().min(1),
  kind: z.enum(['serial device', 'network', 'file', 'operating system', 'in-process', 'user', 'process']),
  direction: z.enum(['in', 'out', 'in/out', 'none']),
  /** Boundary code: files or folders (ending in /) relative to the root. */
  code: z.array(z.string().min(1)).min(1),
  /** The specification: a file relative to the root, optionally with #anchor. */
  spec: z.string().min(1),
  /** Further reading (other specifications it relies on). */
  see: z.array(z.string()).default([]),
  hazards: z.array(z.string().regex(/^HAZ-\d{3}$/)).default([]),
  summary: z.string().min(1),
});
const catalogueFile = z.strictObject({
  version: z.literal(1),
  /** Code that must be covered by some entry: each file, and each folder below each drivers folder. */
  boundaries: z.strictObject({ files: z.array(z.string()), folders: z.array(z.string()) }),
  interfaces: z.array(iface).min(1),
});
export type Interface = z.infer<typeof iface>;
export type Catalogue = z.infer<typeof catalogueFile>;

// ---- soup.yaml ------------------------------------------------------------------------------
const text = z.string().min(1);
const soupItem = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  title: text,
  supplier: text,
  /** npm:<name> or cargo:<name>: the direct dependencies this item covers (their versions come from the lock files). */
  packages: z.array(z.string().regex(/^(npm|cargo):\S+$/)).default([]),
  /** For items that are not packages: a key of the run record's environment (node, rustc, mosquitto, ...). */
  versionFrom: z.string().optional(),
  licence: z.string().optional(),
  /** Shipped with (or compiled into) the product, or only needed on the machine / in tests. */
  shipped: z.boolean(),
  purpose: text,
  usedIn: z.array(z.string()).default([]),
  functional: z.array(text).min(1),
  performance: z.array(text).min(1),
  needs: z.strictObject({ hardware: text, software: text }),
  why: z.string().optional(),
  containment: z.string().optional(),
  anomalies: text,
  tests: z.array(z.string()).default([]),
});
const soupFile = z.strictObject({ version: z.literal(1), items: z.array(soupItem) });
export type SoupItem = z.infer<typeof soupItem>;

// ---- loading ----------------------------------------------------------------------------------
function loadYaml<T>(file: string, label: string, schema: z.ZodType<T>, gaps: Gap[]): T | null {
  const raw = readText(file);
  if (raw === null) {
    gaps.push(gap('data', label, `${file} is missing`));
    return null;
  }
  let doc: unknown;
  try {
    doc = parse(raw);
  } catch (err) {
    gaps.push(gap('data', label, `not valid YAML: ${(err as Error).message.split('\n')[0]}`));
    return null;
  }
  const result = schema.safeParse(doc);
  if (!result.success) {
    for (const issue of result.error.issues) {
      gaps.push(gap('data', label, `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`));
    }
    return null;
  }
  return result.data;
}

export function loadHazards(file: string, gaps: Gap[]): Hazard[] {
  return loadYaml(file, 'hazards.yaml', hazardFile, gaps)?.hazards ?? [];
}

export function loadRequirements(file: string, gaps: Gap[]): { userNeeds: UserNeed[]; requirements: Requirement[]; groups: string[] } {
  const doc = loadYaml(file, 'requirements.yaml', requirementsFile, gaps);
  if (!doc) return { userNeeds: [], requirements: [], groups: [] };
  const requirements: Requirement[] = [];
  for (const g of doc.groups) {
    for (const r of g.requirements) {
      requirements.push({
        id: r.id,
        title: r.title.trim(),
        group: g.name,
        interfaces: [...new Set([g.interface, r.interface ?? []].flat())],
        derivedFrom: [...new Set([...g.derivedFrom, ...(r.derivedFrom ?? [])])],
        tests: r.tests ?? [],
      });
    }
  }
  return { userNeeds: doc.userNeeds, requirements, groups: doc.groups.map((g) => g.name) };
}

export function loadCatalogue(file: string, gaps: Gap[]): Catalogue | null {
  return loadYaml(file, 'catalogue.yaml', catalogueFile, gaps);
}

export function loadSoup(file: string, gaps: Gap[]): SoupItem[] {
  return loadYaml(file, 'soup.yaml', soupFile, gaps)?.items ?? [];
}
