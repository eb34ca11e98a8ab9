/**
 * The one table of Vigil parameters: code, LOINC, canonical UCUM unit, the NEWS2
 * input it feeds, the physiological plausibility range (distinct from clinical alarm
 * limits: a value outside it is impossible, not alarming) and the default maximum
 * age after which a value must not be shown or scored as current.
 *
 * Versioned: bump PARAMETER_TABLE_VERSION on any change; it is reported in the
 * gateway's status so a station can tell which table produced a value.
 */
export const PARAMETER_TABLE_VERSION = '1';

export type ParameterCode = 'spo2' | 'pulse' | 'perfusion-index';
export type News2Field =
  | 'respRatePerMin'
  | 'spo2Percent'
  | 'onOxygen'
  | 'systolicMmHg'
  | 'pulseBpm'
  | 'consciousness'
  | 'tempCelsius';

export interface ParameterSpec {
  code: ParameterCode;
  label: string;
  loinc: string;
  unitUcum: string;
  news2Field: News2Field | null;
  plausibleMin: number;
  plausibleMax: number;
  defaultMaxAgeMs: number;
}

export const PARAMETERS: Readonly<Record<ParameterCode, ParameterSpec>> = {
  // LOINC 59408-5: Oxygen saturation in Arterial blood by Pulse oximetry.
  spo2: {
    code: 'spo2',
    label: 'SpO2',
    loinc: '59408-5',
    unitUcum: '%',
    news2Field: 'spo2Percent',
    plausibleMin: 0,
    plausibleMax: 100,
    defaultMaxAgeMs: 5000,
  },
  // LOINC 8889-8: Heart rate by Pulse oximetry.
  pulse: {
    code: 'pulse',
    label: 'Pulse',
    loinc: '8889-8',
    unitUcum: '/min',
    news2Field: 'pulseBpm',
    plausibleMin: 0,
    plausibleMax: 350,
    defaultMaxAgeMs: 5000,
  },
  // Perfusion index (pulsatile / non-pulsatile infrared signal): no LOINC code is
  // assigned here on purpose; it qualifies SpO2 and is not scored.
  'perfusion-index': {
    code: 'perfusion-index',
    label: 'PI',
    loinc: '',
    unitUcum: '%',
    news2Field: null,
    plausibleMin: 0,
    plausibleMax: 100,
    defaultMaxAgeMs: 5000,
  },
};
