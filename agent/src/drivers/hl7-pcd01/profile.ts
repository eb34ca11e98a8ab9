/**
 * Device profiles of HL7 monitors: what one device model does differently, as versioned data
 * (agent/profiles/hl7/<vendor-model>.json, shipped with the agent), never as a special case in
 * the decoder. A profile is chosen per interface (`"profile": "<name>"` or `"auto"`,
 * docs/interfaces/config.md) and by `vigil decode pcd01 --profile <name>|auto`. Without one
 * nothing is guessed: a placeholder stays implausible, a parameter sent on two channels with
 * different values is withheld as ambiguous, an empty OBX-11 is read as the conformance level
 * says, a vendor-private code is ignored.
 *
 * Each file is validated with zod strict objects, every problem reported at once as
 * `file: path: message`. The format is documented in docs/interfaces/hl7-pcd01.md
 * ("Device profiles"); each profile names the source of every behaviour it describes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { VigilError } from '../../errors';
import type { ParameterCode } from '../../model/parameters';
import { PARAMETER_CODES } from '../../model/parameters';
import { PROJECT_ROOT } from '../../paths';
import { TOLERATED_VERSIONS } from './conformance';

/** Where the agent's HL7 device profiles are. */
export const HL7_PROFILE_DIR = join(PROJECT_ROOT, 'agent', 'profiles', 'hl7');

/** A profile's name is its file name without `.json`: vendor and model, kebab-case. */
export const PROFILE_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** A profile file is missing, unreadable or invalid. `issues` lists every problem as `file: path: message`. */
export class ProfileError extends VigilError {
  constructor(
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super('PROFILE_INVALID', `invalid device profile:\n  ${issues.join('\n  ')}`, options);
  }
}

const parameter = z.enum(PARAMETER_CODES as [ParameterCode, ...ParameterCode[]]);
const text = z.string().min(1).max(200);
/** An OBX-3 as sent: coding system (OBX-3.3), code (OBX-3.1) and, when given, the text (OBX-3.2) too. */
const obx3 = { system: text, code: text, text: text.optional() };
const containment = z.string().regex(/^\d+(\.\d+)*$/, 'must be a dotted OBX-4 prefix like "1.2.1"');

export const hl7ProfileSchema = z.strictObject({
  /** This file's own version (semantic versioning): a change of behaviour is a new version. */
  profileVersion: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version like "1.0.0"'),
  vendor: text,
  model: text,
  /** Firmware versions the described behaviour was seen on; null = not stated by the sources. */
  firmware: z.strictObject({ from: text.nullable(), to: text.nullable() }),
  /** Where each behaviour comes from (an interface guide, a capture, docs): at least one. */
  sources: z.array(z.string().min(10).max(500)).min(1),
  /** MSH-3 / MSH-4 namespace ids (component 1) that select this profile for `"profile": "auto"`. */
  select: z
    .strictObject({ sendingApplication: z.array(text).default([]), sendingFacility: z.array(text).default([]) })
    .refine((s) => s.sendingApplication.length + s.sendingFacility.length > 0, 'needs at least one MSH-3 or MSH-4 identifier'),
  /** MSH-12 versions this device sends; another version means another firmware: the profile is not applied. */
  hl7Versions: z.array(z.enum(TOLERATED_VERSIONS as [string, ...string[]])).min(1),
  /** The status of an OBX without OBX-11 (HL7 table 0085, a status that carries a value); null = as the conformance level says. */
  emptyStatus: z.enum(['F', 'C', 'P', 'R']).nullable(),
  /** OBX-3 codes (vendor-private, or a standard code the device misuses) -> parameter, with a scale factor. */
  codes: z.array(z.strictObject({ ...obx3, parameter, scale: z.number().finite().positive().default(1) })).default([]),
  /** Codes of this device that are known not to be vital signs: ignored, never reported as an incomplete mapping. */
  ignore: z.array(z.strictObject({ ...obx3, why: z.string().min(3).max(200) })).default([]),
  /** When a parameter comes on several channels: the OBX-4 channel (MDS.VMD.CHAN) to read it from. */
  channels: z.partialRecord(parameter, containment).default({}),
  /** Values the device sends for "no value" per parameter: delivered as unavailable, never as a number. */
  placeholders: z.partialRecord(parameter, z.array(z.number().finite()).min(1)).default({}),
});

export type Hl7Profile = z.infer<typeof hl7ProfileSchema> & { name: string };

/** A profile's OBX-3 entry matches: same coding system (any case), same code, and the same text if it names one. */
export function matchesObx3(entry: { system: string; code: string; text?: string | undefined }, id: { system: string; code: string; text: string }): boolean {
  return entry.system.toUpperCase() === id.system.toUpperCase() && entry.code === id.code && (entry.text === undefined || entry.text === id.text);
}

/** Validates one profile; the issues as `file: path: message` (empty when valid). */
export function parseHl7Profile(raw: unknown, file: string): { profile: Hl7Profile | null; issues: string[] } {
  const name = basename(file, '.json');
  const issues: string[] = [];
  if (!PROFILE_NAME.test(name)) issues.push(`${file}: (file name): must be kebab-case vendor-model, e.g. acme-monitor-x2.json`);
  const result = hl7ProfileSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) issues.push(`${file}: ${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`);
  }
  return { profile: result.success && issues.length === 0 ? { ...result.data, name } : null, issues };
}

/** The profile names in a directory (file names without `.json`). */
export function hl7ProfileNames(dir: string = HL7_PROFILE_DIR): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => basename(f, '.json'))
      .sort();
  } catch {
    return [];
  }
}

/** Reads and validates every profile of `dir`; throws ProfileError listing every problem of every file. */
export function loadHl7Profiles(dir: string = HL7_PROFILE_DIR): ReadonlyMap<string, Hl7Profile> {
  const profiles = new Map<string, Hl7Profile>();
  const issues: string[] = [];
  for (const name of hl7ProfileNames(dir)) {
    const file = `${name}.json`;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (cause) {
      issues.push(`${file}: (file): ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`);
      continue;
    }
    const parsed = parseHl7Profile(raw, file);
    issues.push(...parsed.issues);
    if (parsed.profile) profiles.set(name, parsed.profile);
  }
  if (issues.length > 0) throw new ProfileError(issues);
  return profiles;
}

/** The profile setting of an interface or a decode run: none, one named profile, or selection by MSH-3/MSH-4. */
export type ProfileSetting = { kind: 'none' } | { kind: 'fixed'; profile: Hl7Profile } | { kind: 'auto'; profiles: ReadonlyMap<string, Hl7Profile> };

/** Resolves `"profile": "<name>" | "auto"` (absent: none); throws ProfileError for an unknown name or an invalid file. */
export function profileSetting(name: string | undefined, dir: string = HL7_PROFILE_DIR): ProfileSetting {
  if (name === undefined) return { kind: 'none' };
  const profiles = loadHl7Profiles(dir);
  if (name === 'auto') return { kind: 'auto', profiles };
  const profile = profiles.get(name);
  if (!profile) throw new ProfileError([`profile: "${name}" is not one of ${[...profiles.keys()].join(', ') || '(none)'}`]);
  return { kind: 'fixed', profile };
}

/** What the profile setting gives one message: the profile applied, or why none. */
export type ProfileChoice = { profile: Hl7Profile; by: string } | { profile: null; why: string };

/**
 * The profile for one message. Auto: the single profile whose MSH-3 or MSH-4 identifier the
 * message carries (two matching profiles: none, never a guess). A profile whose MSH-12 list
 * does not hold the message's version is not applied (another firmware may behave otherwise).
 */
export function selectHl7Profile(setting: ProfileSetting, header: { sendingApplication: string; sendingFacility: string; version: string }): ProfileChoice {
  if (setting.kind === 'none') return { profile: null, why: 'no profile configured' };
  let profile: Hl7Profile;
  let by: string;
  if (setting.kind === 'fixed') {
    profile = setting.profile;
    by = 'configured';
  } else {
    const matching = [...setting.profiles.values()].filter(
      (p) => p.select.sendingApplication.includes(header.sendingApplication) || p.select.sendingFacility.includes(header.sendingFacility),
    );
    if (matching.length === 0) return { profile: null, why: 'no profile selects this MSH-3/MSH-4' };
    if (matching.length > 1) return { profile: null, why: `MSH-3/MSH-4 select ${matching.length} profiles (${matching.map((p) => p.name).join(', ')}): none applied` };
    profile = matching[0] as Hl7Profile;
    by = 'selected by MSH-3/MSH-4';
  }
  if (!profile.hl7Versions.includes(header.version)) return { profile: null, why: `profile ${profile.name} is for HL7 ${profile.hl7Versions.join(', ')}, not ${header.version}: not applied` };
  return { profile, by };
}
