/**
 * A gap is a hole in the evidence: something the technical documentation claims or needs
 * that the repository or the last test run does not back. `make evidence` lists every gap
 * and fails when there is one.
 */
export type GapKind =
  | 'data' // a data file is missing or does not fit its schema
  | 'hazard-no-control'
  | 'control-no-requirement'
  | 'control-unknown-requirement'
  | 'requirement-not-derived' // a control names a requirement that does not say it derives from it
  | 'requirement-unknown-source' // derivedFrom names no known control or user need
  | 'requirement-unknown-interface'
  | 'requirement-no-test'
  | 'requirement-duplicate'
  | 'test-unknown-requirement'
  | 'test-unknown-hazard'
  | 'traced-test-missing'
  | 'traced-test-failed'
  | 'hazard-no-test'
  | 'hazard-no-system-test'
  | 'hazard-no-interface'
  | 'interface-no-spec'
  | 'interface-unknown-hazard'
  | 'interface-missing' // a boundary file or driver that no catalogue entry names
  | 'interface-code-missing'
  | 'results-missing'
  | 'results-stale'
  | 'results-inconsistent'
  | 'soup-missing' // a dependency without a SOUP entry
  | 'soup-stale' // a SOUP entry for a package that is no longer a dependency
  | 'soup-incomplete'
  | 'soup-import' // a package imported outside the files its entry names
  | 'sbom'
  | 'alarm-condition' // a catalogue entry whose hazard or requirement is unknown or untested
  | 'real-capture' // a real capture without a record or a passing test
  | 'profile-unverified'; // a device profile that no passing test names

export interface Gap {
  kind: GapKind;
  /** What the gap is about: a hazard, control, requirement, test title, package. */
  subject: string;
  message: string;
}

export function gap(kind: GapKind, subject: string, message: string): Gap {
  return { kind, subject, message };
}

export function formatGap(g: Gap): string {
  return `${g.kind}: ${g.subject}: ${g.message}`;
}
