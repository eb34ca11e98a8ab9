/**
 * The benchmarks' station: a process of its own (so that its CPU is measured apart) that
 * subscribes to every bed as the nurses' station does (`vigil/v1/#`, QoS 1, through the
 * agent's io/mqtt.ts), applies every message to the real station model
 * (agent/src/station/station.ts: decoding, de-duplication, sequence tracking), and records
 * what the benchmark needs as one JSON line per message on stdout.
 *
 *   node dist/test/support/bench/station.js --url mqtt://127.0.0.1:1883 [--record all|alarm|none]
 *
 * stdout: `{"ready":true}` once subscribed; then one record per message recorded:
 *   {"r": received wall ms, "rm": received CLOCK_MONOTONIC ms, "k": kind, "g": gateway,
 *    "s": sequence, "boot": boot id, "bf": backfill, "sw": envelope sent wall ms, ...kind fields}
 * once a second `{"count": {"t": wall ms, "messages": received so far, "loopP99Ms", "loopMaxMs": the
 * station's event-loop delay over that second}}`, and at SIGTERM one
 * `{"summary": {...}}` line (messages, duplicates, sequence numbers
 * missing per gateway run), then it exits.
 *
 * Received time is Date.now() (and CLOCK_MONOTONIC) when MQTT.js hands the message over, before
 * decoding: the latency figures include the decode (the "decoded message at the subscriber").
 * `--record alarm`: only alarm messages are decoded a second time and written (the ward: the
 * station's CPU is then mostly the station model's own work).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MqttLink } from '../../../agent/src/io/mqtt';
import { createLogger } from '../../../agent/src/log';
import type { EnvelopeMsg } from '../../../agent/src/proto/codec';
import { decodeEnvelope } from '../../../agent/src/proto/codec';
import { sendReceipts } from '../../../agent/src/commands/station';
import { ReceiptBook } from '../../../agent/src/station/receipts';
import { StationModel } from '../../../agent/src/station/station';
// hw-sim's clock for its alarm-bits events: one CLOCK_MONOTONIC for both ends of the alarm onset benchmark.
import { monotonicClockMs } from '../../../hw-sim/src/runner';

export type StationRecordKind = 'observation' | 'score' | 'alarm' | 'status' | 'other';

export interface StationRecord {
  r: number;
  /** Received, on CLOCK_MONOTONIC (ms, 0.001 ms resolution): the clock hw-sim's alarm-bits events use. */
  rm: number;
  k: StationRecordKind;
  topic: string;
  g: string;
  s: number;
  boot: string;
  bf: boolean;
  sw: number;
  /** observation */
  i?: string;
  p?: string;
  dt?: number;
  dtt?: string;
  hv?: boolean;
  /** observation: the gateway's receive time of the frame (wall ms) */
  rw?: number;
  /** alarm */
  a?: string;
  cond?: string;
  state?: string;
  /** alarm: when the gateway changed it (changedWallMs) */
  cw?: number;
  /** status: gateway counters, and per-interface counters */
  c?: Record<string, number>;
  ic?: Record<string, Record<string, number>>;
  /** status: link state per interface (LINK_STATE_...) */
  st?: Record<string, string>;
  online?: boolean;
  /** status: why it was sent (heartbeat, connected, link-...) */
  why?: string;
}

export interface StationSummary {
  messages: number;
  recorded: number;
  duplicates: number;
  undecodable: number;
  /** Per gateway run (boot id): highest sequence number, and numbers missing below it (lost). */
  runs: Array<{ gateway: string; boot: string; highest: number; missing: number; received: number }>;
}

function record(topic: string, env: EnvelopeMsg, receivedMs: number, receivedMonoMs: number): StationRecord {
  const base = {
    r: receivedMs,
    rm: receivedMonoMs,
    topic,
    g: env.gatewayId,
    s: Number(env.sequence),
    boot: env.bootId,
    bf: env.backfill === true,
    sw: Number(env.sentWallMs),
  };
  if (env.observation) {
    const o = env.observation;
    return {
      ...base,
      k: 'observation',
      i: o.source?.interfaceId ?? '',
      p: o.parameter,
      dt: Number(o.deviceTimeMs),
      dtt: o.deviceTimeText,
      hv: o.hasValue,
      rw: Number(o.receiveWallMs),
    };
  }
  if (env.alarm) return { ...base, k: 'alarm', a: env.alarm.alarmId, cond: env.alarm.condition, state: String(env.alarm.state), cw: Number(env.alarm.changedWallMs) };
  if (env.score) return { ...base, k: 'score' };
  if (env.status) {
    const s = env.status;
    const counters = (list: Array<{ name: string; value: unknown }> | undefined): Record<string, number> =>
      Object.fromEntries((list ?? []).map((c) => [c.name, Number(c.value)]));
    return {
      ...base,
      k: 'status',
      online: s.online,
      why: s.reason,
      c: counters(s.counters),
      ic: Object.fromEntries((s.interfaces ?? []).map((i) => [i.interfaceId, counters(i.counters)])),
      st: Object.fromEntries((s.interfaces ?? []).map((i) => [i.interfaceId, String(i.state)])),
    };
  }
  return { ...base, k: 'other' };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, record: { type: 'string', default: 'all' }, 'station-id': { type: 'string' } },
  });
  if (!values.url) throw new Error('--url is required');
  const mode = values.record ?? 'all';
  // --station-id: confirm delivery with receipts as the product's station does (the soak benchmark).
  const stationId = values['station-id'];
  const receipts = stationId ? new ReceiptBook() : undefined;
  const model = new StationModel(receipts);
  let messages = 0;
  let recorded = 0;
  const out: string[] = [];
  const flush = (): void => {
    if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
    out.length = 0;
  };
  let ticks = 0;
  // The station's own event-loop delay, per second: where a late message waited (10 ms resolution, as the agent's).
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const flushTimer = setInterval(() => {
    // Once a second, the count so far: throughput over any window without recording every message.
    ticks += 1;
    if (ticks % 10 === 0) {
      out.push(JSON.stringify({ count: { t: Date.now(), messages, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6 } }));
      loop.reset();
    }
    flush();
  }, 100);
  const link = new MqttLink(
    {
      url: values.url,
      protocolVersion: 5,
      clientId: `bench-station-${process.pid}`,
      keepaliveSec: 30,
      reconnectPeriodMs: 500,
      insecure: true,
    },
    createLogger('error'),
  );
  link.on('message', (topic, payload) => {
    const receivedMs = Date.now();
    const receivedMonoMs = monotonicClockMs();
    messages += 1;
    if (!model.apply(topic, payload, receivedMs)) return;
    if (mode === 'all' || (mode === 'alarm' && topic.includes('/alarm/'))) {
      recorded += 1;
      out.push(JSON.stringify(record(topic, decodeEnvelope(payload), receivedMs, receivedMonoMs)));
      if (out.length >= 512) flush();
    }
  });
  link.on('error', () => undefined);
  await new Promise<void>((resolve) => link.once('connect', () => resolve()));
  await link.subscribe('vigil/v1/#', 1);
  const logger = createLogger('error');
  const receiptTimer = receipts && stationId ? setInterval(sendReceipts, 250, link, receipts, stationId, logger) : undefined;
  link.on('connect', () => receipts?.resendAll());
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  const stop = (): void => {
    clearInterval(flushTimer);
    clearInterval(receiptTimer);
    flush();
    // Sequence gaps as the station model tracks them (per bed and gateway run).
    const summary: StationSummary = {
      messages,
      recorded,
      duplicates: model.duplicates,
      undecodable: model.undecodable,
      runs: [...model.beds.values()].flatMap((bed) =>
        [...bed.boots].map(([boot, b]) => ({
          gateway: bed.gatewayId,
          boot,
          highest: b.last,
          missing: b.missing.reduce((n, [from, to]) => n + to - from + 1, 0),
          received: b.received,
        })),
      ),
    };
    process.stdout.write(`${JSON.stringify({ summary })}\n`, () => {
      void link.end(true).then(() => process.exit(0));
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench station: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
