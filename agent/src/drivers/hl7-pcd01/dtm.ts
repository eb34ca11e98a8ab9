/**
 * HL7 times: the DTM data type (HL7 v2.6 2.A.22), YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ],
 * read with its UTC offset or, without one, in the interface's configured device offset; and
 * the DTM Vigil writes in its ACKs.
 *
 * Pure: no I/O, no clock (the time is always passed in); nothing here throws on any input.
 */

export interface Hl7Time {
  /** UTC milliseconds of the earliest instant the text denotes. */
  ms: number;
  /** The text as sent. */
  text: string;
  /** Whether the text carried its UTC offset; if not, the configured device offset was applied. */
  zoned: boolean;
}

const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an HL7 DTM. Without a zone the time is the sender's local time: `defaultOffsetMinutes`
 * (the interface's configured device offset) is applied and `zoned` is false. null when the
 * text is not a valid DTM (calendar included).
 */
export function parseDtm(text: string, defaultOffsetMinutes: number): Hl7Time | null {
  const m = DTM.exec(text);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = defaultOffsetMinutes;
  if (m[8] !== undefined) {
    const sign = m[8].startsWith('-') ? -1 : 1;
    const oh = Number(m[8].slice(1, 3));
    const om = Number(m[8].slice(3, 5));
    if (oh > 14 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) + Math.round(fraction * 1000) - offsetMinutes * 60_000;
  return { ms, text, zoned: m[8] !== undefined };
}

/**
 * A DTM with its fraction of a second written without the decimal point
 * (YYYYMMDDHHMMSSf[f[f[f]]][+/-ZZZZ], 15 to 18 digits), as some monitors send. Read by a
 * tolerant interface only (conformance.ts): whatever the extra digits mean, they can only be
 * a part of the second, so reading them as its fraction moves the time by less than 1 s.
 */
const DTM_FRACTION_WITHOUT_POINT = /^(\d{14})(\d{1,4})([+-]\d{4})?$/;

/**
 * parseDtm, and with `tolerant` also the form without the decimal point: `deviation` says
 * that form was read (a conformance warning). null when the text is a time in neither form.
 */
export function parseDtmTolerant(text: string, defaultOffsetMinutes: number, tolerant: boolean): { time: Hl7Time; deviation: boolean } | null {
  const strict = parseDtm(text, defaultOffsetMinutes);
  if (strict !== null) return { time: strict, deviation: false };
  const m = tolerant ? DTM_FRACTION_WITHOUT_POINT.exec(text) : null;
  if (m === null) return null;
  const time = parseDtm(`${m[1]}.${m[2]}${m[3] ?? ''}`, defaultOffsetMinutes);
  return time === null ? null : { time: { ...time, text }, deviation: true };
}

/** "+01:00" -> 60. */
export function utcOffsetMinutes(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (m === null) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/** UTC time as an HL7 DTM with seconds and zone: 20260101100000+0000. */
export function formatDtm(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+0000`;
}
