/**
 * The one table of Vigil parameters: code, LOINC, canonical UCUM unit, the NEWS2
 * input it feeds, the physiological plausibility range (distinct from clinical alarm
 * limits: a value outside it is impossible, not alarming), the default maximum age
 * after which a value must not be shown or scored as current, and the IEEE 11073-10101
 * (MDC) codes that devices use for it.
 *
 * The MDC codes and reference ids are those of the NIST RTMMS Rosetta terminology table
 * (IEEE 11073-10101 as published through RTMMS): every (code, refId) pair below is checked
 * against the committed excerpt test/fixtures/nomenclature/rtmms-rosetta-excerpt.csv by
 * test/unit/hl7-pcd01-nomenclature.test.ts (REQ-HL7-024). Code = 65536 * partition + term code.
 *
 * Versioned: bump PARAMETER_TABLE_VERSION on any change; it is reported in the
 * gateway's status so a station can tell which table produced a value. A device code
 * that is not in this table is rejected and counted, never guessed.
 */
export const PARAMETER_TABLE_VERSION = '6';

export type ParameterCode =
  | 'spo2'
  | 'pulseRate'
  | 'heartRate'
  | 'respRate'
  | 'nibpSystolic'
  | 'nibpDiastolic'
  | 'nibpMean'
  | 'temperature'
  | 'perfusionIndex'
  | 'skinTemperature'
  | 'spCO'
  | 'spMet'
  | 'spHb'
  | 'spOC'
  | 'pvi';

export type News2Field =
  | 'respRatePerMin'
  | 'spo2Percent'
  | 'onOxygen'
  | 'systolicMmHg'
  | 'pulseBpm'
  | 'consciousness'
  | 'tempCelsius';

export interface MdcCode {
  /** IEEE 11073-10101 numeric code (partition 2, SCADA: 65536 * 2 + term code). */
  code: number;
  /** Reference id, e.g. MDC_PULS_OXIM_SAT_O2. */
  refId: string;
  /** Other reference ids the nomenclature gives the same code (e.g. MDC_ECG_CARD_BEAT_RATE). */
  synonyms?: readonly string[];
}

export interface ParameterSpec {
  code: ParameterCode;
  label: string;
  /** LOINC code; empty where none is assigned on purpose. */
  loinc: string;
  /** Canonical UCUM unit: every value of this parameter is published in it. */
  unitUcum: string;
  news2Field: News2Field | null;
  plausibleMin: number;
  plausibleMax: number;
  defaultMaxAgeMs: number;
  mdc: readonly MdcCode[];
}

const spec = (s: ParameterSpec): ParameterSpec => s;

export const PARAMETERS: Readonly<Record<ParameterCode, ParameterSpec>> = {
  // LOINC 59408-5: Oxygen saturation in Arterial blood by Pulse oximetry.
  spo2: spec({
    code: 'spo2',
    label: 'SpO2',
    loinc: '59408-5',
    unitUcum: '%',
    news2Field: 'spo2Percent',
    plausibleMin: 0,
    plausibleMax: 100,
    defaultMaxAgeMs: 5000,
    // SpO2 of the pulse oximeter, then the site-qualified SpO2 of a dual-oximetry monitor (left
    // and right hand, pre- and postductal): each is an SpO2 of this patient. Order = priority
    // when one message gives several (the differences between sites are not SpO2: not listed).
    mdc: [
      { code: 150456, refId: 'MDC_PULS_OXIM_SAT_O2' },
      { code: 150472, refId: 'MDC_PULS_OXIM_SAT_O2_ART_LEFT' },
      { code: 150476, refId: 'MDC_PULS_OXIM_SAT_O2_ART_RIGHT' },
      { code: 160296, refId: 'MDC_PULS_OXIM_SAT_O2_ART_PREDUCTAL' },
      { code: 160300, refId: 'MDC_PULS_OXIM_SAT_O2_ART_POSTDUCTAL' },
    ],
  }),
  // LOINC 8889-8: Heart rate by Pulse oximetry.
  pulseRate: spec({
    code: 'pulseRate',
    label: 'Pulse',
    loinc: '8889-8',
    unitUcum: '/min',
    news2Field: 'pulseBpm',
    plausibleMin: 0,
    plausibleMax: 350,
    defaultMaxAgeMs: 5000,
    // Pulse rate by source: the oximeter's plethysmogram first, then an unspecified arterial
    // pulse, the cuff's (non-invasive) and an arterial line's (invasive). Each counts the
    // patient's arterial pulses; the device code published with the value tells them apart.
    mdc: [
      { code: 149530, refId: 'MDC_PULS_OXIM_PULS_RATE' },
      { code: 149514, refId: 'MDC_PULS_RATE' },
      { code: 149546, refId: 'MDC_PULS_RATE_NON_INV' },
      { code: 149522, refId: 'MDC_BLD_PULS_RATE_INV' },
    ],
  }),
  // LOINC 8867-4: Heart rate (here from the ECG).
  heartRate: spec({
    code: 'heartRate',
    label: 'HR',
    loinc: '8867-4',
    unitUcum: '/min',
    news2Field: 'pulseBpm',
    plausibleMin: 0,
    plausibleMax: 350,
    defaultMaxAgeMs: 5000,
    // RTMMS lists both reference ids for 147842 (vendors use either).
    mdc: [{ code: 147842, refId: 'MDC_ECG_HEART_RATE', synonyms: ['MDC_ECG_CARD_BEAT_RATE'] }],
  }),
  // LOINC 9279-1: Respiratory rate.
  respRate: spec({
    code: 'respRate',
    label: 'RR',
    loinc: '9279-1',
    unitUcum: '/min',
    news2Field: 'respRatePerMin',
    plausibleMin: 0,
    plausibleMax: 150,
    defaultMaxAgeMs: 30000,
    // Respiration rate by method. Order = priority when one message gives several. The rate of
    // mechanical ventilation (MDC_VENT_RESP_RATE) is the ventilator's, not the patient's: not listed.
    mdc: [
      { code: 151562, refId: 'MDC_RESP_RATE' },
      { code: 151594, refId: 'MDC_CO2_RESP_RATE' },
      { code: 151570, refId: 'MDC_AWAY_RESP_RATE' },
      { code: 151578, refId: 'MDC_TTHOR_RESP_RATE' },
      { code: 151650, refId: 'MDC_ACOUSTIC_RESP_RATE' },
      { code: 151658, refId: 'MDC_PULS_OXIM_PLETH_RESP_RATE' },
    ],
  }),
  // LOINC 8480-6: Systolic blood pressure. NIBP is episodic: a reading stays current for 30 min.
  nibpSystolic: spec({
    code: 'nibpSystolic',
    label: 'NIBP sys',
    loinc: '8480-6',
    unitUcum: 'mm[Hg]',
    news2Field: 'systolicMmHg',
    plausibleMin: 10,
    plausibleMax: 350,
    defaultMaxAgeMs: 1_800_000,
    // Both NIBP code families: MDC_PRESS_BLD_NONINV_* (150020 block) and MDC_PRESS_CUFF_*
    // (150300 block, "measured discontinuously and noninvasively (cuff)"). MDC_PRESS_CUFF itself
    // (150300) is the cuff pressure during a measurement, not a blood pressure: never listed.
    mdc: [
      { code: 150021, refId: 'MDC_PRESS_BLD_NONINV_SYS' },
      { code: 150301, refId: 'MDC_PRESS_CUFF_SYS' },
    ],
  }),
  // LOINC 8462-4: Diastolic blood pressure.
  nibpDiastolic: spec({
    code: 'nibpDiastolic',
    label: 'NIBP dia',
    loinc: '8462-4',
    unitUcum: 'mm[Hg]',
    news2Field: null,
    plausibleMin: 5,
    plausibleMax: 300,
    defaultMaxAgeMs: 1_800_000,
    mdc: [
      { code: 150022, refId: 'MDC_PRESS_BLD_NONINV_DIA' },
      { code: 150302, refId: 'MDC_PRESS_CUFF_DIA' },
    ],
  }),
  // LOINC 8478-0: Mean blood pressure.
  nibpMean: spec({
    code: 'nibpMean',
    label: 'NIBP mean',
    loinc: '8478-0',
    unitUcum: 'mm[Hg]',
    news2Field: null,
    plausibleMin: 5,
    plausibleMax: 320,
    defaultMaxAgeMs: 1_800_000,
    mdc: [
      { code: 150023, refId: 'MDC_PRESS_BLD_NONINV_MEAN' },
      { code: 150303, refId: 'MDC_PRESS_CUFF_MEAN' },
    ],
  }),
  // LOINC 8310-5: Body temperature. Episodic: current for 60 min.
  temperature: spec({
    code: 'temperature',
    label: 'Temp',
    loinc: '8310-5',
    unitUcum: 'Cel',
    news2Field: 'tempCelsius',
    plausibleMin: 25,
    plausibleMax: 45,
    defaultMaxAgeMs: 3_600_000,
    // Body temperature by site: core, the clinical sites NEWS2 accepts, and the core sites of
    // probes (oesophageal, nasopharyngeal, bladder, blood). RTMMS gives two axillary codes
    // (MDC_TEMP_AXILLA of the thermometer standard 11073-10408, and MDC_TEMP_AXIL that
    // monitors send): both listed. Skin (150388, its own parameter below), finger and toe
    // temperatures are NOT body temperature; nor are airway, room, injectate or sensor
    // temperatures. Order = priority when one message gives several.
    mdc: [
      { code: 150364, refId: 'MDC_TEMP_BODY' },
      { code: 150368, refId: 'MDC_TEMP_CORE' },
      { code: 150344, refId: 'MDC_TEMP' },
      { code: 150392, refId: 'MDC_TEMP_TYMP' },
      { code: 188428, refId: 'MDC_TEMP_EAR' },
      { code: 188424, refId: 'MDC_TEMP_ORAL' },
      { code: 188420, refId: 'MDC_TEMP_RECT' },
      { code: 188452, refId: 'MDC_TEMP_AXILLA' },
      { code: 188456, refId: 'MDC_TEMP_GIT' },
      { code: 188496, refId: 'MDC_TEMP_AXIL' },
      { code: 150372, refId: 'MDC_TEMP_ESOPH' },
      { code: 150380, refId: 'MDC_TEMP_NASOPH' },
      { code: 150348, refId: 'MDC_TEMP_FOLEY' },
      { code: 188436, refId: 'MDC_TEMP_BLD' },
    ],
  }),
  // Perfusion index (pulsatile / non-pulsatile infrared signal): no LOINC code is
  // assigned here on purpose; it qualifies SpO2 and is not scored. Monitors send it as
  // MDC_BLD_PERF_INDEX in % (docs/interfaces/hl7-pcd01.md); Philips' relative perfusion
  // (MDC_PULS_OXIM_PERF_REL, unitless, another scale) is not this parameter.
  perfusionIndex: spec({
    code: 'perfusionIndex',
    label: 'PI',
    loinc: '',
    unitUcum: '%',
    news2Field: null,
    plausibleMin: 0,
    plausibleMax: 100,
    defaultMaxAgeMs: 5000,
    mdc: [{ code: 150488, refId: 'MDC_BLD_PERF_INDEX' }],
  }),
  // Skin temperature (the sensor patch's thermistor): NOT body temperature. It runs several
  // degrees below core and follows the room and perfusion, so it never feeds NEWS2 (whose
  // temperature is core or a clinical site). LOINC 39106-0: Temperature of Skin. A monitor's
  // MDC_TEMP_SKIN is this parameter, never body temperature.
  skinTemperature: spec({
    code: 'skinTemperature',
    label: 'Skin temp',
    loinc: '39106-0',
    unitUcum: 'Cel',
    news2Field: null,
    plausibleMin: 15,
    plausibleMax: 45,
    defaultMaxAgeMs: 60_000,
    mdc: [{ code: 150388, refId: 'MDC_TEMP_SKIN' }],
  }),
  // --- Masimo Rainbow parameters (docs/interfaces/masimo-ascii.md). None is a NEWS2 input:
  // they are published beside the vital signs ("extra" class, shed first under load) and
  // never scored. The line comes once a second, so they age like SpO2. No MDC code here:
  // the IEEE 11073-10101 mapping of every parameter is done against the published
  // nomenclature (issue 13, item 3), not guessed. Plausible ranges: the quantity's physical
  // limits, wider than any display range, so that only an impossible value is rejected.
  //
  // LOINC 86904-0: Carboxyhemoglobin/Hemoglobin.total in Arterial blood by Pulse oximetry
  // (LOINC, as listed by findacode.com, retrieved 2026-12-07).
  spCO: spec({
    code: 'spCO',
    label: 'SpCO',
    loinc: '86904-0',
    unitUcum: '%',
    news2Field: null,
    plausibleMin: 0,
    plausibleMax: 100,
    defaultMaxAgeMs: 5000,
    // RTMMS: carboxyhaemoglobin in arterial blood measured by pulse oximetry, %.
    mdc: [{ code: 160284, refId: 'MDC_PULS_OXIM_HB_CO_ART' }],
  }),
  // Methaemoglobin fraction by pulse CO-oximetry. No pulse-oximetry LOINC term was verified
  // (search of 2026-12-07): empty on purpose, never guessed.
  spMet: spec({
    code: 'spMet',
    label: 'SpMet',
    loinc: '',
    unitUcum: '%',
    news2Field: null,
    plausibleMin: 0,
    plausibleMax: 100,
    defaultMaxAgeMs: 5000,
    // RTMMS: methaemoglobin in arterial blood measured by pulse oximetry, %.
    mdc: [{ code: 160288, refId: 'MDC_PULS_OXIM_HB_MET_ART' }],
  }),
  // Total haemoglobin by pulse CO-oximetry, g/dL (the Masimo operator's manuals' default unit
  // and the unit of their SpOC formula). Plausible 0-30 g/dL: beyond any living patient, wider
  // than the Radical-7's limits (1.0-24.5 g/dL). No LOINC term verified: empty on purpose.
  spHb: spec({
    code: 'spHb',
    label: 'SpHb',
    loinc: '',
    unitUcum: 'g/dL',
    news2Field: null,
    plausibleMin: 0,
    plausibleMax: 30,
    defaultMaxAgeMs: 5000,
    // RTMMS: total haemoglobin in arterial blood measured by pulse oximetry (g/dL, g/L or mmol/L: only g/dL is accepted).
    mdc: [{ code: 160292, refId: 'MDC_PULS_OXIM_HB_TOTAL_ART' }],
  }),
  // Arterial oxygen content by pulse CO-oximetry, mL/dL: 1.31 x SpHb x SpO2 + 0.3 (Radical-7
  // operator's manual), at most about 40 with the plausible SpHb. No LOINC term verified.
  spOC: spec({
    code: 'spOC',
    label: 'SpOC',
    loinc: '',
    unitUcum: 'mL/dL',
    news2Field: null,
    plausibleMin: 0,
    plausibleMax: 40,
    defaultMaxAgeMs: 5000,
    // RTMMS: oxygen content estimated by pulse oximetry, mL/dL.
    mdc: [{ code: 160280, refId: 'MDC_PULS_OXIM_CONC_HB_O2_ART_CALC' }],
  }),
  // Pleth variability index (Masimo): the respiratory variation of the perfusion index,
  // (PImax - PImin) / PImax x 100 %, so 0-100 by definition. No LOINC term verified.
  pvi: spec({
    code: 'pvi',
    label: 'PVI',
    loinc: '',
    unitUcum: '%',
    news2Field: null,
    plausibleMin: 0,
    plausibleMax: 100,
    defaultMaxAgeMs: 5000,
    // No PVI code in the RTMMS excerpt: a monitor's PVI under a code of partition 2 raises
    // device-mapping-incomplete (never guessed).
    mdc: [],
  }),
};

export const PARAMETER_CODES = Object.keys(PARAMETERS) as ParameterCode[];

export function isParameterCode(code: string): code is ParameterCode {
  return Object.hasOwn(PARAMETERS, code);
}

/** Looks a device's MDC code up in the table; undefined means "unknown: reject, never guess". */
export function parameterForMdc(code: number): ParameterSpec | undefined {
  return PARAMETER_CODES.map((c) => PARAMETERS[c]).find((p) => p.mdc.some((m) => m.code === code));
}
