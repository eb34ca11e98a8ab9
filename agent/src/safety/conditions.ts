/**
 * The alarm-condition catalogue: every alarm the agent can raise, with its kind, its
 * IEC 60601-1-8 priority, the hazard it controls (docs/risk/hazards.yaml), the requirement
 * whose tests verify it (docs/requirements.yaml) and why it has that priority.
 *
 * `AlarmBook.raise` accepts only the keys of this table, and takes the kind and the
 * priority from it: no call site decides a priority. `docs/alarms.md` is generated from it
 * by `make evidence`; test/unit/alarm-conditions.test.ts proves that no condition is raised
 * outside it and that every hazard and requirement it names exists.
 *
 * IEC 60601-1-8 (6.1.2, table 1): high priority when immediate response is required to
 * prevent a potentially serious or irreversible harm; medium when a prompt response is
 * required; low when awareness is required. A lost or withheld value of a monitored patient
 * is at least medium: the nurse must go and look.
 */
import type { AlarmKind, AlarmPriority } from './alarms';

/** What a family of conditions is qualified by (the alarm's condition is `<key>.<qualifier>`). */
export type ConditionQualifier = 'validation-rule' | 'parameter' | 'device-code' | 'device-alarm-bit' | 'device-event';

export interface ConditionSpec {
  /** The alarm id the station sees: `<source>.<condition>`. */
  idPattern: string;
  kind: AlarmKind;
  priority: AlarmPriority;
  /** The hazards this condition is a risk control of. */
  hazards: readonly string[];
  /** The requirement whose tests verify that the condition is raised and cleared. */
  requirement: string;
  /** Why it exists and why it has this priority, in one line. */
  rationale: string;
  /** Present for a family: the condition's name carries this qualifier after a dot. */
  qualifier?: ConditionQualifier;
  /**
   * `device`: an alarm the bedside device announced itself, relayed (the station shows it with
   * the device as its source, apart from the gateway's own alarms). Absent: the gateway's own.
   */
  origin?: 'device';
}

const technical = 'technical' as const;

export const ALARM_CONDITIONS = {
  // --- device links (drivers/interface-link.ts, safety/link-policy.ts) -------------------
  'link-stale': {
    idPattern: '<interface>.link-stale',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-003'],
    requirement: 'REQ-AGENT-002',
    rationale: 'A connected device sent no valid data for its quiet time: its values are withdrawn; loss of a monitored parameter needs a prompt look.',
  },
  'link-lost': {
    idPattern: '<interface>.link-lost',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-003'],
    requirement: 'REQ-SAFE-030',
    rationale: 'The port or listener is gone (unplugged cable, USB re-enumeration): values withdrawn, the port is reopened; a prompt look at the cable.',
  },
  'frames-rejected': {
    idPattern: '<interface>.frames-rejected',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-008'],
    requirement: 'REQ-AGENT-003',
    rationale: 'Rejected frames above the configured rate: the values still arriving are verified, so awareness (low) is enough; silence becomes link-stale.',
  },
  'frames-lost': {
    idPattern: '<interface>.frames-lost',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-007'],
    requirement: 'REQ-ALARM-004',
    rationale: 'Sequence gaps on the patch link: gaps are flagged on the derived values; awareness only.',
  },
  'device-identity': {
    idPattern: '<interface>.device-identity',
    kind: technical,
    priority: 'high',
    hazards: ['HAZ-011'],
    requirement: 'REQ-SAFE-037',
    rationale: 'Another device or another patient on the bed\'s link: its values are held back until a nurse confirms; values of the wrong patient need an immediate response.',
  },
  // --- validation (validation/controls.ts) --------------------------------------------------
  'value-rejected': {
    idPattern: '<interface>.value-rejected.<rule>',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-001', 'HAZ-003', 'HAZ-005', 'HAZ-006', 'HAZ-010'],
    requirement: 'REQ-VAL-002',
    rationale: 'A value failed an interface risk control (unit, plausibility, age, mapping, demo data): it is not shown and the earlier value is withdrawn; a monitored value is missing. Cleared once every parameter the rule rejected passes again.',
    qualifier: 'validation-rule',
  },
  'unit-changed': {
    idPattern: '<interface>.unit-changed.<parameter>',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-001'],
    requirement: 'REQ-VAL-002',
    rationale: 'A device changed the unit of a parameter mid-stream; the value was converted exactly or rejected, so awareness only.',
    qualifier: 'parameter',
  },
  'device-clock-untrusted': {
    idPattern: '<interface>.device-clock-untrusted',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-004'],
    requirement: 'REQ-SAFE-033',
    rationale: 'The device clock is beyond the offset bound: ages come from the gateway clock instead, data still flows; awareness only.',
  },
  'frozen-values': {
    idPattern: '<interface>.frozen-values',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-007', 'HAZ-009'],
    requirement: 'REQ-SAFE-021',
    rationale: 'Bit-identical values for the frozen window: a stuck device; its values leave the score, a prompt look is needed.',
  },
  'sensor-off': {
    idPattern: '<interface>.sensor-off',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-009'],
    requirement: 'REQ-AGENT-004',
    rationale: 'The device reports the sensor off or absent: no measurement of the patient; a prompt look.',
  },
  // --- conditions a driver detects by itself (DriverCondition) ------------------------------
  'value-withheld': {
    idPattern: '<interface>.value-withheld.<parameter>',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-005', 'HAZ-008'],
    requirement: 'REQ-HL7-034',
    rationale: 'A row of a parameter the station shows (or the score uses) was rejected (malformed, code and name disagree, ambiguous channels, unusable status): that value is missing until the device sends a usable one; a prompt look.',
    qualifier: 'parameter',
  },
  'device-mapping-incomplete': {
    idPattern: '<interface>.device-mapping-incomplete.<code>',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-005'],
    requirement: 'REQ-HL7-025',
    rationale: 'The device sends a measurement code of a vital-sign partition that Vigil cannot map: it is shown on the monitor but not at the station; awareness for the technical staff (a profile or the table), raised once per code.',
    qualifier: 'device-code',
  },
  'low-battery': {
    idPattern: '<interface>.low-battery',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-012'],
    requirement: 'REQ-ALARM-004',
    rationale: 'The patch reports a low battery: data still flows; replace or charge it before it stops.',
  },
  'device-fault': {
    idPattern: '<interface>.device-fault',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-009'],
    requirement: 'REQ-ALARM-004',
    rationale: 'The patch reports a sensor fault: its values are flagged and kept out of the score; a prompt look.',
  },
  'signal-processing-failed': {
    idPattern: '<interface>.signal-processing-failed',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-017'],
    requirement: 'REQ-SIG-005',
    rationale: 'Native signal processing failed repeatedly: the patch\'s derived values are unavailable.',
  },
  // --- the bedside device's own alarms, relayed (drivers/masimo-ascii/alarm-bits.ts) ----------
  // The device's local alarm stays the primary one: it sounds at the bedside at the device's own
  // priority. The relay tells the station, one line period (1 s) later at best. IEC 60601-1-8
  // (6.1.2, table 1) asks for the priority the response needs, and a relayed alarm must not claim
  // more than its source: Masimo's ASCII output carries no priority (docs/interfaces/masimo-ascii.md),
  // so the relay cannot know it was high at the bedside. A limit alarm is relayed at medium (a
  // prompt response: someone goes to the bed, where the device shows the value and its own
  // priority); a sustained deterioration also reaches the station through NEWS2 (news2-*), whose
  // priorities come from the RCP chart, not from the device.
  'device-spo2-low': {
    idPattern: '<interface>.device-spo2-low',
    kind: 'physiological',
    priority: 'medium',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-007',
    rationale: 'The oximeter announces SpO2 below its low limit (ALARM bit 0x0002, S1 and S8): relayed so the station sees it; medium (a prompt look) because the line carries no priority and the device\'s own alarm, sounding at the bedside at its own priority, stays the primary one.',
    origin: 'device',
  },
  'device-spo2-high': {
    idPattern: '<interface>.device-spo2-high',
    kind: 'physiological',
    priority: 'medium',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-007',
    rationale: 'The oximeter announces SpO2 above its high limit (ALARM bit 0x0001, S1 and S8; hyperoxia in neonates, or a limit set on oxygen therapy): relayed at medium, as every limit alarm, since the line carries no priority and the device\'s own alarm stays the primary one.',
    origin: 'device',
  },
  'device-pulse-low': {
    idPattern: '<interface>.device-pulse-low',
    kind: 'physiological',
    priority: 'medium',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-007',
    rationale: 'The oximeter announces a pulse rate below its low limit (ALARM bit 0x0008, S1 and S8): relayed at medium (a prompt look); the line carries no priority and the device\'s own alarm stays the primary one.',
    origin: 'device',
  },
  'device-pulse-high': {
    idPattern: '<interface>.device-pulse-high',
    kind: 'physiological',
    priority: 'medium',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-007',
    rationale: 'The oximeter announces a pulse rate above its high limit (ALARM bit 0x0004, S1 and S8): relayed at medium (a prompt look); the line carries no priority and the device\'s own alarm stays the primary one.',
    origin: 'device',
  },
  'device-alarm-unconfirmed': {
    idPattern: '<interface>.device-alarm-unconfirmed.<bit>',
    kind: 'physiological',
    priority: 'medium',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-007',
    rationale: 'The device sets an ALARM bit whose meaning no second source confirms (0x0040 and up: S1 alone names most of them: low battery, SpCO, SpMet, desaturation index, PI change) or none names: relayed with the raw bit, never guessed, so the nurse goes to read the device; medium because it may be any of these, most of them physiological (hence the kind); the device\'s own alarm stays the primary one.',
    qualifier: 'device-alarm-bit',
    origin: 'device',
  },
  // IHE PCD-04 (ORU^R40) alerts of an HL7 monitor (drivers/hl7-pcd01/alert-relay.ts): unlike the
  // Masimo line, the message carries the device's priority (OBX-8 or MDC_ATTR_ALARM_PRIORITY) and
  // type (SP/ST/SA), so the relay picks the condition of that kind and priority: the priority is the
  // device's, not the gateway's (docs/interfaces/hl7-pcd01.md, "Alerts").
  'device-alarm-high': {
    idPattern: '<interface>.device-alarm-high.<alert>',
    kind: 'physiological',
    priority: 'high',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-009',
    rationale: 'An HL7 monitor announces a physiological (or advisory) alert by IHE PCD-04 (ORU^R40): relayed with its event and source codes; the device said high (PH): immediate response; relayed at the priority the device gave it, never above or below; the device\'s own alarm stays the primary one.',
    qualifier: 'device-event',
    origin: 'device',
  },
  'device-alarm-medium': {
    idPattern: '<interface>.device-alarm-medium.<alert>',
    kind: 'physiological',
    priority: 'medium',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-009',
    rationale: 'An HL7 monitor announces a physiological (or advisory) alert by IHE PCD-04 (ORU^R40): relayed with its event and source codes; the device said medium (PM), or gave no priority Vigil can read (relayed as medium, a prompt look, and the text says so); the device\'s own alarm stays the primary one.',
    qualifier: 'device-event',
    origin: 'device',
  },
  'device-alarm-low': {
    idPattern: '<interface>.device-alarm-low.<alert>',
    kind: 'physiological',
    priority: 'low',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-009',
    rationale: 'An HL7 monitor announces a physiological (or advisory) alert by IHE PCD-04 (ORU^R40): relayed with its event and source codes; the device said low (PL) or no alarm priority (PN): awareness; the device\'s own alarm stays the primary one.',
    qualifier: 'device-event',
    origin: 'device',
  },
  'device-technical-high': {
    idPattern: '<interface>.device-technical-high.<alert>',
    kind: 'technical',
    priority: 'high',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-009',
    rationale: 'An HL7 monitor announces a technical alert by IHE PCD-04 (ORU^R40): relayed with its event and source codes; the device said high (PH): immediate response; relayed at the priority the device gave it, never above or below; the device\'s own alarm stays the primary one.',
    qualifier: 'device-event',
    origin: 'device',
  },
  'device-technical-medium': {
    idPattern: '<interface>.device-technical-medium.<alert>',
    kind: 'technical',
    priority: 'medium',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-009',
    rationale: 'An HL7 monitor announces a technical alert by IHE PCD-04 (ORU^R40): relayed with its event and source codes; the device said medium (PM), or gave no priority Vigil can read (relayed as medium, a prompt look, and the text says so); the device\'s own alarm stays the primary one.',
    qualifier: 'device-event',
    origin: 'device',
  },
  'device-technical-low': {
    idPattern: '<interface>.device-technical-low.<alert>',
    kind: 'technical',
    priority: 'low',
    hazards: ['HAZ-019'],
    requirement: 'REQ-ALARM-009',
    rationale: 'An HL7 monitor announces a technical alert by IHE PCD-04 (ORU^R40): relayed with its event and source codes; the device said low (PL) or no alarm priority (PN): awareness; the device\'s own alarm stays the primary one.',
    qualifier: 'device-event',
    origin: 'device',
  },
  // --- the score (scoring/news2-stage.ts, pipeline/observation-flow.ts) ---------------------
  // RCP NEWS2 (2017): chart 3 "NEWS thresholds and triggers" gives the trigger levels and the
  // response each calls for, chart 4 "Clinical response to the NEWS trigger thresholds" what the
  // ward does. The three are exclusive (one risk level at a time); their priorities are the
  // defaults a site may change (config `alarms.news2TriggerPriority`, withNews2Priorities below).
  'news2-high': {
    idPattern: 'gateway.news2-high',
    kind: 'physiological',
    priority: 'high',
    hazards: ['HAZ-018'],
    requirement: 'REQ-ALARM-002',
    rationale: 'RCP NEWS2 (2017), chart 3: aggregate score 7 or more, high clinical risk, calls for an urgent or emergency response (chart 4: emergency assessment by a team with critical-care competencies): high priority, immediate response.',
  },
  'news2-medium': {
    idPattern: 'gateway.news2-medium',
    kind: 'physiological',
    priority: 'medium',
    hazards: ['HAZ-018'],
    requirement: 'REQ-ALARM-002',
    rationale: 'RCP NEWS2 (2017), chart 3: aggregate score 5-6, medium clinical risk, is the key threshold for an urgent response (chart 4: urgent assessment by a clinician with acute-care competencies): medium priority, prompt response.',
  },
  'news2-low-medium': {
    idPattern: 'gateway.news2-low-medium',
    kind: 'physiological',
    priority: 'low',
    hazards: ['HAZ-018'],
    requirement: 'REQ-ALARM-006',
    rationale: 'RCP NEWS2 (2017), chart 3: a score of 3 in a single parameter (aggregate 4 or less), low-medium clinical risk, calls for an urgent ward-based response (chart 4: the registered nurse informs the medical team, who decide whether to escalate), a step below the urgent response of 5-6: low priority (awareness), below medium and high as in IEC 60601-1-8; a site may raise it.',
  },
  'score-input-rejected': {
    idPattern: 'gateway.score-input-rejected',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-006'],
    requirement: 'REQ-ALARM-003',
    rationale: 'The native score refused an input: no score is published while it lasts, so the station\'s score expires.',
  },
  'native-failure': {
    idPattern: 'gateway.native-failure',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-017'],
    requirement: 'REQ-SAFE-039',
    rationale: 'The native NEWS2 computation failed three times within a minute: scores are missing.',
  },
  // --- the gateway itself (safety/supervision.ts, state/durable-state.ts) -------------------
  'event-loop-stall': {
    idPattern: 'gateway.event-loop-stall',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-012'],
    requirement: 'REQ-SAFE-034',
    rationale: 'The event loop was blocked past its bound; data resumed (otherwise gateway-stalled); awareness only.',
  },
  'gateway-stalled': {
    idPattern: 'gateway.gateway-stalled',
    kind: technical,
    priority: 'high',
    hazards: ['HAZ-012'],
    requirement: 'REQ-SAFE-011',
    rationale: 'A mandatory stage makes no progress: the supervisor is about to restart the agent; nothing from this bed is current.',
  },
  'queue-evicting': {
    idPattern: 'gateway.queue-evicting',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-013'],
    requirement: 'REQ-DELIV-029',
    rationale: 'The durable queue reached a bound and drops its oldest observations: history is lost, live data flows.',
  },
  'queue-disk-failing': {
    idPattern: 'gateway.queue-disk-failing',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-013'],
    requirement: 'REQ-SAFE-038',
    rationale: 'The state directory cannot be written: a broker outage now would lose data.',
  },
  // --- distributed alarm system (publish/delivery.ts Delivery.superviseAlarms) -------------
  // IEC 60601-1-8 (6.11.2): in a distributed alarm system intended for confirmed delivery, a
  // failure of delivery is itself a technical alarm condition (docs/risk/hazards.yaml, HAZ-013).
  'alarm-undelivered': {
    idPattern: 'gateway.alarm-undelivered',
    kind: technical,
    priority: 'high',
    hazards: ['HAZ-013'],
    requirement: 'REQ-DELIV-051',
    rationale: 'An alarm change (relayed from the device, a NEWS2 trigger or a technical alarm, any of them possibly high priority) is not known to have reached the station within queue.alarmDeliveryBoundMs (not confirmed by every station of queue.confirmBy; without them not even acknowledged by the broker): the ward may not know of an alarm that needs an immediate response, so high; the device\'s own alarm at the bedside stays the primary one.',
  },
  'load-shedding': {
    idPattern: 'gateway.load-shedding',
    kind: technical,
    priority: 'low',
    hazards: ['HAZ-013'],
    requirement: 'REQ-PERF-001',
    rationale: 'Overload: the least important messages are not produced (never alarms); awareness only.',
  },
  'state-not-saved': {
    idPattern: 'gateway.state-not-saved',
    kind: technical,
    priority: 'medium',
    hazards: ['HAZ-013'],
    requirement: 'REQ-CMD-032',
    rationale: 'Accepted commands or learned identities could not be written: a restart now would lose them.',
  },
} as const satisfies Record<string, ConditionSpec>;

export type ConditionKey = keyof typeof ALARM_CONDITIONS;

/** An IEC 60601-1-8 alarm priority (info is a signal, not an alarm). */
export type AlarmConditionPriority = Exclude<AlarmPriority, 'info'>;

/**
 * The site's priorities of the three NEWS2 trigger levels (config `alarms.news2TriggerPriority`):
 * the only conditions whose priority a site may choose. Their response is a clinical policy of
 * the site (RCP NEWS2 chart 4 is adapted locally); every other priority is the catalogue's.
 */
export interface News2Priorities {
  lowMedium: AlarmConditionPriority;
  medium: AlarmConditionPriority;
  high: AlarmConditionPriority;
}

/** The catalogue's own NEWS2 priorities (the defaults of `alarms.news2TriggerPriority`). */
export const NEWS2_DEFAULT_PRIORITIES: Readonly<News2Priorities> = {
  lowMedium: ALARM_CONDITIONS['news2-low-medium'].priority,
  medium: ALARM_CONDITIONS['news2-medium'].priority,
  high: ALARM_CONDITIONS['news2-high'].priority,
};

/**
 * The catalogue with the site's priorities for the three NEWS2 conditions, and nothing else
 * changed: the alarm book built on it raises them at the site's priority. The kind, hazards,
 * requirement and rationale stay; a priority for any other condition cannot be expressed.
 */
export function withNews2Priorities(
  priorities: Readonly<News2Priorities>,
  catalogue: Readonly<Record<ConditionKey, ConditionSpec>> = ALARM_CONDITIONS,
): Readonly<Record<ConditionKey, ConditionSpec>> {
  return {
    ...catalogue,
    'news2-low-medium': { ...catalogue['news2-low-medium'], priority: priorities.lowMedium },
    'news2-medium': { ...catalogue['news2-medium'], priority: priorities.medium },
    'news2-high': { ...catalogue['news2-high'], priority: priorities.high },
  };
}

/** Conditions a driver may report by itself (DriverCondition). */
export type DriverConditionKey =
  | 'low-battery' | 'device-fault' | 'signal-processing-failed' | 'frames-lost' | 'value-withheld' | 'device-mapping-incomplete'
  | 'device-spo2-low' | 'device-spo2-high' | 'device-pulse-low' | 'device-pulse-high' | 'device-alarm-unconfirmed'
  | 'device-alarm-high' | 'device-alarm-medium' | 'device-alarm-low'
  | 'device-technical-high' | 'device-technical-medium' | 'device-technical-low';

export function isConditionKey(name: string): name is ConditionKey {
  return Object.prototype.hasOwnProperty.call(ALARM_CONDITIONS, name);
}

/** The condition's name in the alarm: the key, or `<key>.<qualifier>` for a family. */
export function conditionName(key: ConditionKey, qualifier?: string): string {
  return qualifier === undefined ? key : `${key}.${qualifier}`;
}

/**
 * Whether an alarm's condition is one a bedside device announced itself (relayed): the station
 * shows it with the device as its source. An unknown condition (another version) is the gateway's.
 */
export function isDeviceAlarm(condition: string): boolean {
  const found = specOf(condition);
  return found !== null && found.spec.origin === 'device';
}

/** The catalogue entry of an alarm's condition name (`value-rejected.implausible` -> value-rejected). */
export function specOf(condition: string): { key: ConditionKey; spec: ConditionSpec } | null {
  if (isConditionKey(condition)) return { key: condition, spec: ALARM_CONDITIONS[condition] };
  const dot = condition.indexOf('.');
  const key = dot > 0 ? condition.slice(0, dot) : '';
  if (!isConditionKey(key)) return null;
  const spec: ConditionSpec = ALARM_CONDITIONS[key];
  return spec.qualifier ? { key, spec } : null;
}
