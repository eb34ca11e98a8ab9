/**
 * HL7 v2 PCD-01 test messages written for Vigil's tests (not copied from any data set): a
 * monitor's periodic ORU^R01 in the shape IHE PCD-01 describes, and builders for variants.
 * Segments end with CR, as on the wire; `withTerminator` gives the LF and CR LF forms.
 */

export interface ObxSpec {
  type?: string;
  code: string;
  containment: string;
  value?: string;
  unit?: string;
  flags?: string;
  status?: string;
  time?: string;
  equipment?: string;
}

export interface MonitorMessageSpec {
  controlId?: string;
  version?: string;
  profile?: string;
  processingId?: string;
  messageType?: string;
  patient?: string;
  obrTime?: string;
  obx?: ObxSpec[];
}

export const EUI64 = '0012A1FFFE3B4C5D';
export const PATIENT_ID = 'MRN0042';

/** The OBX rows of a monitor's periodic vitals, MDS/VMD/CHAN descriptors first. */
export function monitorObx(o: { equipment?: string; time?: string; status?: string } = {}): ObxSpec[] {
  const time = o.time ?? '20260101100000+0000';
  const status = o.status ?? 'R';
  return [
    { code: '69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC', containment: '1.0.0.0', status: 'X', equipment: `${o.equipment ?? EUI64}^EUI-64` },
    { type: 'NM', code: '150456^MDC_PULS_OXIM_SAT_O2^MDC', containment: '1.1.1.1', value: '97', unit: '262688^MDC_DIM_PERCENT^MDC', status, time },
    { type: 'NM', code: '149530^MDC_PULS_OXIM_PULS_RATE^MDC', containment: '1.1.1.2', value: '72', unit: '264864^MDC_DIM_BEAT_PER_MIN^MDC', status, time },
    { type: 'NM', code: '147842^MDC_ECG_HEART_RATE^MDC', containment: '1.2.1.1', value: '71', unit: '{beat}/min^{beat}/min^UCUM', status, time },
    { type: 'NM', code: '151562^MDC_RESP_RATE^MDC', containment: '1.2.1.2', value: '16', unit: '264928^MDC_DIM_RESP_PER_MIN^MDC', status, time },
    { type: 'NM', code: '150021^MDC_PRESS_BLD_NONINV_SYS^MDC', containment: '1.3.1.1', value: '121', unit: '266016^MDC_DIM_MMHG^MDC', status, time },
    { type: 'NM', code: '150022^MDC_PRESS_BLD_NONINV_DIA^MDC', containment: '1.3.1.2', value: '79', unit: 'mm[Hg]^mm[Hg]^UCUM', status, time },
    { type: 'NM', code: '150023^MDC_PRESS_BLD_NONINV_MEAN^MDC', containment: '1.3.1.3', value: '93', unit: 'mm[Hg]^mm[Hg]^UCUM', status, time },
    { type: 'NM', code: '150364^MDC_TEMP_BODY^MDC', containment: '1.4.1.1', value: '36.8', unit: '268192^MDC_DIM_DEGC^MDC', status, time },
  ];
}

function obxLine(i: number, o: ObxSpec, f = '|'): string {
  const fields = [
    'OBX',
    String(i + 1),
    o.type ?? (o.value ? 'NM' : ''),
    o.code,
    o.containment,
    o.value ?? '',
    o.unit ?? '',
    '',
    o.flags ?? '',
    '',
    '',
    o.status ?? 'R',
    '',
    '',
    o.time ?? '',
    '',
    '',
    '',
    o.equipment ?? '',
  ];
  return fields.join(f);
}

/** An ORU^R01 of a monitor (CR segment ends), with every part overridable. */
export function monitorMessage(spec: MonitorMessageSpec = {}): string {
  const f = '|';
  const enc = '^~\\&';
  const msh = [
    'MSH',
    enc,
    `MONITOR^${EUI64}^EUI-64`,
    'ICU',
    '',
    '',
    '20260101100000+0000',
    '',
    spec.messageType ?? 'ORU^R01^ORU_R01',
    spec.controlId ?? 'MSG00001',
    spec.processingId ?? 'P',
    spec.version ?? '2.6',
    '',
    '',
    'NE',
    'AL',
    '',
    'UNICODE UTF-8',
    '',
    '',
    spec.profile ?? 'IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO',
  ].join(f);
  const lines = [
    msh,
    spec.patient === undefined ? `PID${f}${f}${f}${PATIENT_ID}^^^HOSP^MR${f}${f}DOE^JANE` : spec.patient,
    `OBR${f}1${f}${f}${f}182777000^monitoring of patient^SCT${f}${f}${f}${spec.obrTime ?? '20260101100000+0000'}`,
    ...(spec.obx ?? monitorObx()).map((o, i) => obxLine(i, o, f)),
  ].filter((l) => l !== '');
  return `${lines.join('\r')}\r`;
}

/** The same message with another segment terminator. */
export function withTerminator(message: string, terminator: '\r' | '\n' | '\r\n'): string {
  return message.replace(/\r/g, terminator);
}

/**
 * The same message written with other delimiters: every delimiter character is mapped (MSH-1
 * and MSH-2 included), so the message means the same if the parser reads MSH as it must.
 */
export function withDelimiters(message: string, d: { field: string; component: string; repetition: string; escape: string; subcomponent: string }): string {
  const map: Record<string, string> = { '|': d.field, '^': d.component, '~': d.repetition, '\\': d.escape, '&': d.subcomponent };
  return [...message].map((ch) => map[ch] ?? ch).join('');
}

/** A thermometer in Fahrenheit, as personal-health devices send it (MDC_TEMP_ORAL, MDC_DIM_FAHR). */
export function thermometerFahrenheit(value = '98.6'): string {
  return monitorMessage({
    controlId: 'THERM1',
    obx: [
      { code: '528392^MDC_DEV_SPEC_PROFILE_TEMP^MDC', containment: '1', status: 'X', equipment: `${EUI64}^EUI-64` },
      { type: 'NM', code: '188424^MDC_TEMP_ORAL^MDC', containment: '1.0.0.1', value, unit: '266560^MDC_DIM_FAHR^MDC', status: 'R', time: '20260101100000+0000' },
    ],
  });
}

/** An ACK as a receiver sends it. */
export function ackMessage(code: string, controlId: string, version = '2.6', profile = 'IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO'): string {
  return `MSH|^~\\&|GW|FAC|MONITOR|ICU|20260101100001+0000||ACK^R01^ACK|A1|P|${version}|||NE|NE|||||${profile}\rMSA|${code}|${controlId}\r`;
}

export interface AlertMessageSpec {
  controlId?: string;
  instance?: string;
  event?: string;
  source?: string;
  flags?: string;
  phase?: string;
  state?: string;
  inactivation?: string;
  equipment?: string;
  withObr3?: boolean;
}

/**
 * An IHE PCD-04 ORU^R40 in the S8 layout of docs/interfaces/hl7-pcd01.md ("Alerts"), written by hand:
 * one OBR per alert, the event in OBX-3 of the first OBX, the source in its OBX-5, priority~type in
 * its OBX-8, then the SpO2 row and the phase, state and inactivation facets.
 */
export function alertMessage(spec: AlertMessageSpec = {}): string {
  const instance = spec.instance ?? '7001^ACME_MON';
  return [
    `MSH|^~\\&|ACME_MON^${spec.equipment ?? EUI64}^EUI-64||||20261207120000+0000||ORU^R40^ORU_R40|${spec.controlId ?? 'A1'}|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO`,
    'PID|||MRN0042^^^Hospital^PI||Doe^Jane',
    `OBR|1||${spec.withObr3 === false ? '' : instance}|196616^MDC_EVT_ALARM^MDC|||20261207120000+0000`,
    `OBX|1|CWE|${spec.event ?? '196670^MDC_EVT_LO^MDC'}|1.0.0.0.1|${spec.source ?? '150456^MDC_PULS_OXIM_SAT_O2^MDC'}|||${spec.flags ?? 'PM~SP'}|||F|||20261207120000+0000||||${spec.equipment ?? EUI64}`,
    'OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.150456.2|87|262688^MDC_DIM_PERCENT^MDC|90-100|L|||F',
    `OBX|3|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.3|${spec.phase ?? 'start'}||||||F`,
    `OBX|4|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.0.0.0.4|${spec.state ?? 'active'}||||||F`,
    `OBX|5|ST|68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC|1.0.0.0.5|${spec.inactivation ?? 'enabled'}||||||F`,
  ].join('\r') + '\r';
}
