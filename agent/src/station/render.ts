/**
 * The console station view as plain text (`vigil station`), one block per bed, rendered from
 * the pure station model's views (station/station.ts).
 */
import type { BedView } from './station';

const LABEL: Record<string, string> = {
  spo2: 'SpO2',
  pulseRate: 'Pulse',
  heartRate: 'HR',
  respRate: 'RR',
  nibpSystolic: 'NIBP sys',
  nibpDiastolic: 'NIBP dia',
  nibpMean: 'NIBP map',
  temperature: 'Temp',
  perfusionIndex: 'PI',
  skinTemperature: 'Skin T',
  consciousness: 'ACVPU',
  onOxygen: 'O2',
  spo2Scale: 'SpO2 sc',
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * HH:MM:SS (UTC) of a wall time a gateway sent, or "--:--:--" when it is no time a Date can hold
 * (beyond +-8.64e15 ms): a forged or broken time must not crash the rendering (HAZ-012;
 * `toISOString` throws a RangeError on such a Date). Found by the station fuzz target.
 */
export function clockTime(wallMs: number): string {
  const d = new Date(wallMs);
  return Number.isNaN(d.getTime()) ? '--:--:--' : d.toISOString().slice(11, 19);
}

/** The station's own handling of an alarm (acknowledged, silenced here), after its text. */
function stationState(a: BedView['alarms'][number]): string {
  if (a.state === 'acknowledged') return `  (acknowledged by ${a.acknowledgedBy})`;
  if (a.state === 'silenced') return `  (silenced until ${clockTime(a.silencedUntilWallMs)})`;
  return '';
}

/** Renders the station view as plain text, one block per bed. */
export function renderStation(views: BedView[], nowMs: number): string {
  const lines = [`Vigil station  ${new Date(nowMs).toISOString()}  beds: ${views.length}`];
  if (views.length === 0) lines.push('  (waiting for gateways...)');
  for (const v of views) {
    const hb = v.heartbeatAgeMs === null ? '' : ` (status ${seconds(v.heartbeatAgeMs)} ago)`;
    const gw = v.gateway.toUpperCase() + (v.gateway === 'online' ? '' : `: ${v.gatewayReason}`);
    lines.push('', `${v.bed}  gateway ${v.gatewayId}  ${gw}${hb}`);
    for (const val of v.values) {
      const label = `${LABEL[val.parameter] ?? val.parameter}${val.source ? `/${val.source}` : ''}`.padEnd(13);
      const by = val.enteredBy ? `  entered by ${val.enteredBy}` : '';
      if (val.current && val.value !== null) {
        const marks = [...(val.status === 'final' ? [] : [val.status]), ...val.quality];
        const flags = marks.length > 0 ? `  [${marks.join(', ')}]` : '';
        const shown = val.valueCode || String(val.value);
        lines.push(`  ${label}${shown.padStart(6)} ${val.unit.padEnd(5)} age ${seconds(val.ageMs)}${flags}${by}`);
      } else if (val.stopped) {
        // Nothing at all arrives for this parameter any more: say so, per parameter.
        lines.push(`  ${label}${'--'.padStart(6)} ${val.unit.padEnd(5)} DATA STOPPED: nothing received for ${seconds(val.ageMs)}${val.backfill ? ' (last was backfill)' : ''}`);
      } else {
        const why = val.backfill
          ? 'backfill (delivered late)'
          : val.reason || (val.value !== null && !val.current ? (val.status === 'final' ? 'STALE' : val.status) : val.status);
        lines.push(`  ${label}${'--'.padStart(6)} ${val.unit.padEnd(5)} unavailable: ${why} (last ${seconds(val.ageMs)} ago)`);
      }
    }
    if (v.score) {
      const s = v.score;
      const head = s.current ? `${s.total}` : '--';
      const risk = s.current ? (s.complete ? `risk ${s.riskLevel}` : `risk at least ${s.riskLevel}`) : 'not current';
      const inc = s.complete ? '' : `  INCOMPLETE, missing: ${s.missing.join(', ')}`;
      const manual = s.manualInputs.length > 0 ? `  manual: ${s.manualInputs.map((m) => `${m.field}=${m.valueCode} (${m.enteredBy})`).join(', ')}` : '';
      const scale = s.spo2Scale === 2 ? '  SpO2 scale 2' : '';
      lines.push(`  NEWS2        ${head.padStart(6)}       ${risk}${inc}${scale}${manual}${s.backfill ? '  (last score was backfill)' : ''}`);
    }
    if (v.alarms.length === 0) lines.push('  Alarms  none');
    // The gateway's own alarms first, then the bedside devices' alarms it relays, each with the
    // device as its source (the text names the model, serial, the device's alarm id and state).
    for (const a of v.alarms.filter((x) => x.origin !== 'device')) {
      lines.push(`  ALARM   [${a.priority.toUpperCase()}] ${a.kind} ${a.alarmId}: ${a.detail}${stationState(a)}`);
    }
    for (const a of v.alarms.filter((x) => x.origin === 'device')) {
      lines.push(`  DEVICE  [${a.priority.toUpperCase()}] ${a.kind} from device on ${a.source || 'unknown interface'} ${a.alarmId}: ${a.detail}${stationState(a)}`);
    }
    // The model keeps a history item for every backfill message it counts (station.ts), and
    // never empties the history: its times are known exactly when backfill has arrived.
    const { received, oldestWallMs, newestWallMs } = v.backfill;
    if (oldestWallMs !== null && newestWallMs !== null) {
      lines.push(`  History ${received} message(s) delivered late (backfill) from ${clockTime(oldestWallMs)} to ${clockTime(newestWallMs)}: kept as history, never alarmed as live`);
    }
    if (v.missingMessages > 0) lines.push(`  LOST?   ${v.missingMessages} numbered message(s) not received (${v.sequenceGaps} gap(s))`);
  }
  return `${lines.join('\n')}\n`;
}
