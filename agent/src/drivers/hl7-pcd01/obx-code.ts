/**
 * What an OBX's identifier (OBX-3) means to Vigil, read on its own so that it can be judged even
 * when the OBX's other fields are faulty: a parameter of the one table (model/parameters.ts)
 * or of the device's profile, a code nothing in Vigil uses (ignored and counted), a code of a
 * vital-sign partition Vigil cannot map (reported: a vital sign never disappears silently), or
 * a code whose text contradicts its number (rejected, never guessed).
 *
 * Sources: IEEE 11073-10101 through NIST RTMMS (model/mdc.ts); HL7 v2.6 table 0396 (coding
 * systems: `MDC` for 11073-10101, `99zzz` and `L` for local codes). Pure; never throws.
 */
import { classifyMdcCode, mdcCodeOfRefId, refIdContradicts } from '../../model/mdc';
import type { ParameterCode, ParameterSpec } from '../../model/parameters';
import { PARAMETERS } from '../../model/parameters';
import type { ConformanceNotes } from './conformance';
import type { ObxIdentity } from './obx-parse';
import type { Hl7Profile } from './profile';
import { matchesObx3 } from './profile';

export type CodeMeaning =
  | {
      kind: 'parameter';
      spec: ParameterSpec;
      /** Published with the value: `MDC:150456`, or `<system>:<code>` for a profile's vendor code. */
      deviceCode: string;
      /** Priority when one message gives the parameter several times: lower wins (table order, then profile order). */
      rank: number;
      /** The profile's scale factor (1 for a standard code). */
      scale: number;
    }
  /** Nothing in Vigil uses it: counted as obx-ignored.<reason>, never alarmed. */
  | { kind: 'ignored'; reason: 'vendor-private' | 'unknown-code'; rule: string }
  /** A code of a vital-sign partition Vigil cannot map: rejected and reported (device-mapping-incomplete). */
  | { kind: 'unmapped'; deviceCode: string; rule: string }
  /** Not to be believed: rejected with its reason; `parameter` is what it would have been, if any. */
  | { kind: 'rejected'; reason: 'code-name-mismatch' | 'unknown-code'; rule: string; parameter: ParameterCode | null };

/** HL7 table 0396: `99zzz` (z alphanumeric) and `L` are local coding systems. */
export function isLocalCodingSystem(system: string): boolean {
  return /^99[A-Za-z0-9]*$/.test(system) || system === 'L';
}

/** Rank offset of a profile's codes: after every code of the table. */
const PROFILE_RANK = 1000;

const NUMERIC = /^\d{1,10}$/;

/** The parameter an MDC code would be, if it is one of the table's. */
function parameterOfMdc(code: number | undefined): ParameterCode | null {
  if (code === undefined) return null;
  const c = classifyMdcCode(code);
  return c.kind === 'parameter' ? c.spec.code : null;
}

function fromProfile(id: ObxIdentity, profile: Hl7Profile | null): CodeMeaning | null {
  if (profile === null) return null;
  const i = profile.codes.findIndex((e) => matchesObx3(e, id));
  const entry = profile.codes[i];
  if (entry) return { kind: 'parameter', spec: PARAMETERS[entry.parameter], deviceCode: `${id.system.toUpperCase()}:${id.code}`, rank: PROFILE_RANK + i, scale: entry.scale };
  const ignored = profile.ignore.find((e) => matchesObx3(e, id));
  if (ignored) return { kind: 'ignored', reason: isLocalCodingSystem(id.system) ? 'vendor-private' : 'unknown-code', rule: `ignored by profile ${profile.name}: ${ignored.why}` };
  return null;
}

/** A numeric MDC code: contradiction, then the table, then the nomenclature's partitions. */
function fromMdcNumber(code: number, text: string): CodeMeaning {
  if (refIdContradicts(code, text)) {
    const parameter = parameterOfMdc(code) ?? parameterOfMdc(mdcCodeOfRefId(text));
    return { kind: 'rejected', reason: 'code-name-mismatch', rule: `OBX-3 text ${text} is the reference id of MDC code ${mdcCodeOfRefId(text)}, not of ${code}: not guessed`, parameter };
  }
  const c = classifyMdcCode(code);
  if (c.kind === 'parameter') return { kind: 'parameter', spec: c.spec, deviceCode: `MDC:${code}`, rank: c.spec.mdc.indexOf(c.mdc), scale: 1 };
  if (c.kind === 'not-used') return { kind: 'ignored', reason: 'unknown-code', rule: `MDC code ${code} is not used by Vigil (${c.why})` };
  return { kind: 'unmapped', deviceCode: `MDC:${code}`, rule: `MDC code ${code} of partition ${c.partition} is not in the parameter table: device mapping incomplete` };
}

/**
 * The meaning of OBX-3: the device's profile first (its vendor codes and its known exceptions),
 * then the coding system. A tolerant interface reads an MDC code sent without its coding system
 * when the text is that code's reference id (a conformance warning); nothing else is guessed.
 */
export function meaningOfObx3(id: ObxIdentity, profile: Hl7Profile | null, tolerant: boolean, notes: ConformanceNotes): CodeMeaning {
  const byProfile = fromProfile(id, profile);
  if (byProfile) return byProfile;
  if (isLocalCodingSystem(id.system)) return { kind: 'ignored', reason: 'vendor-private', rule: `OBX-3 coding system ${id.system} is local (vendor-private)` };
  const numeric = NUMERIC.test(id.code) ? Number(id.code) : null;
  const mdc = id.system.toUpperCase() === 'MDC';
  const selfNamed = id.system === '' && numeric !== null && mdcCodeOfRefId(id.text) === numeric;
  if (tolerant && selfNamed) notes.add('obx3-coding-system', 'OBX-3.3 is empty; the code was read as MDC because OBX-3.2 is its reference id');
  if ((mdc || (tolerant && selfNamed)) && numeric !== null) return fromMdcNumber(numeric, id.text);
  if (mdc) {
    const parameter = parameterOfMdc(mdcCodeOfRefId(id.text));
    const rule = 'OBX-3 identifier is not a numeric MDC code (a reference id alone is not trusted)';
    return parameter === null ? { kind: 'ignored', reason: 'unknown-code', rule } : { kind: 'rejected', reason: 'unknown-code', rule, parameter };
  }
  // Device vocabulary in a reason: printable ASCII, bounded.
  const system = id.system.replace(/[^\x20-\x7e]/g, '?').slice(0, 32);
  return { kind: 'ignored', reason: 'unknown-code', rule: `OBX-3 coding system "${system}" is not MDC` };
}
