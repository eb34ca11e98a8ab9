/**
 * `vigil station --url mqtt://...`: the console station view, and the commands a nurse
 * sends from it (docs/interfaces/commands.md):
 *
 *   vigil station ack     --url U --bed site/ward/bed --alarm <id> --user <name>
 *   vigil station silence --url U --bed site/ward/bed --alarm <id> --duration-sec 120 --user <name>
 *   vigil station observe --url U --bed site/ward/bed [--consciousness A|C|V|P|U] [--on-oxygen true|false] [--spo2-scale 1|2] --user <name>
 *   vigil station confirm-device --url U --bed site/ward/bed --interface <id> [--serial S] --user <name>
 *
 * A command names the bed's gateway (learned from the bed's retained status, or --gateway),
 * carries a fresh id and the time, and waits for the gateway's answer on .../cmd-result.
 * Exit code: 0 accepted, 1 rejected (or refused by the broker, or no answer), 2 usage.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors';
import { MqttLink } from '../io/mqtt';
import type { Logger } from '../log';
import type { CommandMsg, CommandResultMsg } from '../proto/codec';
import { decodeEnvelope, encodeCommand, encodeReceipt } from '../proto/codec';
import type { BedAddress } from '../publish/topics';
import { topics } from '../publish/topics';
import type { StationAction } from '../station/commands';
import { buildCommand, parseBed } from '../station/commands';
import { ReceiptBook } from '../station/receipts';
import { renderStation, StationModel } from '../station/station';

export interface StationOptions {
  url: string;
  json: boolean;
  refreshMs: number;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** A persistent session under this client id: what was published while the view was away is delivered on return. */
  clientId?: string | undefined;
  /**
   * Confirm delivery as this station (its certificate's name): publish delivery receipts to
   * the gateways, which keep every queued message until the stations they wait for confirm it
   * (HAZ-013, CTRL-025). Absent: this view confirms nothing.
   */
  stationId?: string | undefined;
  protocolVersion?: 4 | 5;
}

export async function runStation(opts: StationOptions, logger: Logger, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const receipts = opts.stationId ? new ReceiptBook() : undefined;
  const model = new StationModel(receipts);
  const link = new MqttLink(
    {
      url: opts.url,
      protocolVersion: opts.protocolVersion ?? 5,
      clientId: opts.clientId ?? `vigil-station-${process.pid}`,
      keepaliveSec: 10,
      reconnectPeriodMs: 1000,
      insecure: !/^(mqtts|ssl):/.test(opts.url),
      caFile: opts.caFile,
      certFile: opts.certFile,
      keyFile: opts.keyFile,
      ...(opts.clientId ? { clean: false, sessionExpirySec: 3600 } : {}),
    },
    logger,
  );
  // Redraw when news arrives (at most every 250 ms) and on a timer, so ages keep moving.
  let lastDrawMs = 0;
  link.on('message', (topic, payload) => {
    if (model.apply(topic, payload, Date.now()) && !opts.json && Date.now() - lastDrawMs >= 250) draw();
  });
  link.on('connect', () => {
    link.subscribe(topics.all, 1).catch((err: Error) => logger.error('subscribe-failed', { error: err.message }));
    receipts?.resendAll(); // a receipt lost with the old connection is said again
  });
  link.on('error', (err) => logger.warn('mqtt-error', { error: err.message }));
  const tty = 'isTTY' in out && (out as NodeJS.WriteStream).isTTY === true;
  function draw(): void {
    const now = Date.now();
    lastDrawMs = now;
    const views = model.view(now);
    if (opts.json) out.write(`${JSON.stringify({ t: now, connected: link.connected, beds: views })}\n`);
    else out.write((tty ? '\x1b[2J\x1b[H' : '') + renderStation(views, now) + (link.connected ? '' : '  (broker not connected)\n'));
  }
  const timer = setInterval(draw, opts.refreshMs);
  const receiptTimer = receipts && opts.stationId ? setInterval(sendReceipts, 250, link, receipts, opts.stationId, logger) : undefined;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      clearInterval(timer);
      clearInterval(receiptTimer);
      void link.end(true).then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * Publishes the delivery receipts due (station/receipts.ts) as station `stationId`, QoS 1; one
 * the broker refuses or that cannot be sent is logged and said again later. Called on a timer.
 */
export function sendReceipts(link: MqttLink, book: ReceiptBook, stationId: string, logger: Logger): void {
  if (!link.connected) return;
  for (const r of book.due(Date.now())) {
    const payload = encodeReceipt({ schemaVersion: 1, stationId, gatewayId: r.gatewayId, bootId: r.bootId, received: r.received, sentWallMs: Date.now() });
    link.publish(topics.receipt(r.bed, stationId), payload, { qos: 1, retain: false }).catch((err: Error) => {
      logger.warn('receipt-not-sent', { error: err.message });
      book.resendAll();
    });
  }
}

const COMMAND_USAGE = 'usage: vigil station ack|silence|observe|confirm-device --url U --bed site/ward/bed --user NAME [options]';

/** The options of a station command (`vigil station ack|silence|observe|confirm-device ...`). */
const COMMAND_OPTIONS = {
  url: { type: 'string' },
  bed: { type: 'string' },
  user: { type: 'string' },
  gateway: { type: 'string' },
  'station-id': { type: 'string' },
  alarm: { type: 'string' },
  'duration-sec': { type: 'string' },
  consciousness: { type: 'string' },
  'on-oxygen': { type: 'string' },
  'spo2-scale': { type: 'string' },
  interface: { type: 'string' },
  serial: { type: 'string', default: '' },
  'timeout-ms': { type: 'string', default: '10000' },
  'protocol-version': { type: 'string', default: '5' },
  json: { type: 'boolean', default: false },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
} as const;

/** The parsed option values of a station command. */
type CommandValues = ReturnType<typeof parseArgs<{ args: string[]; options: typeof COMMAND_OPTIONS; strict: true }>>['values'];

/** A station command, parsed: what to send, where, and as whom. */
export interface StationCommandOptions {
  action: StationAction;
  url: string;
  bed: { siteId: string; wardId: string; bedId: string };
  user: string;
  gatewayId: string | undefined;
  stationId: string;
  timeoutMs: number;
  json: boolean;
  tls: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined };
  protocolVersion: 4 | 5;
}

/** Parses the options of a station command into the action to send; throws UsageError. */
export function parseStationCommand(sub: string, args: string[]): StationCommandOptions {
  const { values } = parseArgs({ args, options: COMMAND_OPTIONS, strict: true });
  if (!values.url) throw new UsageError(`--url is required\n${COMMAND_USAGE}`);
  const bed = values.bed ? parseBed(values.bed) : null;
  if (!bed) throw new UsageError('--bed site/ward/bed is required');
  if (!values.user) throw new UsageError('--user <name> is required: every command names who sent it');
  const action = parseAction(sub, values);
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new UsageError('--timeout-ms must be an integer >= 100');
  const pv = values['protocol-version'];
  if (pv !== '4' && pv !== '5') throw new UsageError('--protocol-version must be 4 or 5');
  return {
    action,
    url: values.url,
    bed,
    user: values.user,
    gatewayId: values.gateway,
    stationId: values['station-id'] ?? `station-${hostname()}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64),
    timeoutMs,
    json: values.json ?? false,
    tls: { caFile: values.ca, certFile: values.cert, keyFile: values.key },
    protocolVersion: pv === '4' ? 4 : 5,
  };
}

/** The action of station command `sub` from its options; throws UsageError. */
function parseAction(sub: string, values: CommandValues): StationAction {
  switch (sub) {
    case 'ack':
      if (!values.alarm) throw new UsageError('--alarm <id> is required');
      return { kind: 'ack', alarmId: values.alarm };
    case 'silence': {
      const durationSec = Number(values['duration-sec'] ?? '120');
      if (!values.alarm) throw new UsageError('--alarm <id> is required');
      if (!Number.isInteger(durationSec) || durationSec < 1 || durationSec > 600) throw new UsageError('--duration-sec must be 1-600');
      return { kind: 'silence', alarmId: values.alarm, durationSec };
    }
    case 'observe':
      return parseObserveAction(values);
    case 'confirm-device':
      if (!values.interface) throw new UsageError('--interface <id> is required');
      return { kind: 'confirm-device', interfaceId: values.interface, serialNumber: values.serial ?? '' };
    default:
      throw new UsageError(`unknown station command "${sub}"\n${COMMAND_USAGE}`);
  }
}

/** `observe`: the manual inputs given (at least one); throws UsageError. */
function parseObserveAction(values: CommandValues): StationAction {
  const c = values.consciousness;
  if (c !== undefined && !['A', 'C', 'V', 'P', 'U'].includes(c)) throw new UsageError('--consciousness must be A, C, V, P or U');
  const o = values['on-oxygen'];
  if (o !== undefined && o !== 'true' && o !== 'false') throw new UsageError('--on-oxygen must be true or false');
  const sc = values['spo2-scale'];
  if (sc !== undefined && sc !== '1' && sc !== '2') throw new UsageError('--spo2-scale must be 1 or 2');
  if (c === undefined && o === undefined && sc === undefined) throw new UsageError('observe needs --consciousness, --on-oxygen or --spo2-scale');
  return {
    kind: 'observe',
    ...(c !== undefined ? { consciousness: c as 'A' | 'C' | 'V' | 'P' | 'U' } : {}),
    ...(o !== undefined ? { onOxygen: o === 'true' } : {}),
    ...(sc !== undefined ? { spo2Scale: Number(sc) as 1 | 2 } : {}),
  };
}

/** Answers kept for a command nobody waits for yet (one that overtook its PUBACK), at most. */
const EARLY_RESULTS = 256;

/**
 * The gateways' CommandResults as they arrive on .../cmd-result, handed to whoever waits for
 * that command id. Used by `vigil station ack|...` and by `vigil station serve` (one link each).
 */
export class CommandResultInbox {
  private readonly waiting = new Map<string, (r: CommandResultMsg) => void>();
  private readonly early = new Map<string, CommandResultMsg>();

  /** A CommandResult arrived. */
  push(result: CommandResultMsg): void {
    const waiter = this.waiting.get(result.commandId);
    if (waiter) return waiter(result);
    this.early.set(result.commandId, result);
    if (this.early.size > EARLY_RESULTS) this.early.delete(this.early.keys().next().value as string);
  }

  /** The answer to `commandId`, or null after `timeoutMs`. */
  waitFor(commandId: string, timeoutMs: number): Promise<CommandResultMsg | null> {
    const got = this.early.get(commandId);
    if (got) {
      this.early.delete(commandId);
      return Promise.resolve(got);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(commandId);
        resolve(null);
      }, Math.max(0, timeoutMs));
      this.waiting.set(commandId, (r) => {
        clearTimeout(timer);
        this.waiting.delete(commandId);
        resolve(r);
      });
    });
  }
}

/** What came of a command sent. */
export type CommandOutcome =
  | { outcome: 'accepted' | 'rejected'; result: CommandResultMsg }
  | { outcome: 'refused-by-broker'; detail: string }
  | { outcome: 'no-answer' };

/**
 * Publishes `command` on its bed's command topic (QoS 1) and waits up to `timeoutMs` for the
 * gateway's CommandResult, which `inbox` must be fed from the bed's .../cmd-result.
 */
export async function publishCommand(link: MqttLink, bed: BedAddress, command: CommandMsg, inbox: CommandResultInbox, timeoutMs: number): Promise<CommandOutcome> {
  const startedMs = Date.now();
  try {
    await link.publish(topics.command(bed), encodeCommand(command), { qos: 1, retain: false });
  } catch (err) {
    return { outcome: 'refused-by-broker', detail: (err as Error).message };
  }
  // An answer that overtook the PUBACK waits in the inbox.
  const result = await inbox.waitFor(command.commandId, timeoutMs - (Date.now() - startedMs));
  if (!result) return { outcome: 'no-answer' };
  return { outcome: result.outcome === 'COMMAND_OUTCOME_ACCEPTED' ? 'accepted' : 'rejected', result };
}

/** Sends one station command and prints the gateway's answer; returns the exit code. */
export async function runStationCommand(sub: string, args: string[], logger: Logger, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const o = parseStationCommand(sub, args);
  const link = new MqttLink(
    {
      url: o.url,
      protocolVersion: o.protocolVersion,
      clientId: `vigil-station-cmd-${process.pid}-${Date.now() % 100000}`,
      keepaliveSec: 10,
      reconnectPeriodMs: 1000,
      insecure: !/^(mqtts|ssl):/.test(o.url),
      ...o.tls,
    },
    logger,
  );
  const print = (line: string, json: Record<string, unknown>): void => {
    out.write(o.json ? `${JSON.stringify(json)}\n` : `${line}\n`);
  };
  let gatewayId = o.gatewayId;
  let commandId = '';
  const inbox = new CommandResultInbox();
  link.on('message', (topic, payload) => {
    if (payload.length === 0) return;
    try {
      const env = decodeEnvelope(payload);
      if (topic === topics.status(o.bed) && !gatewayId && env.gatewayId) gatewayId = env.gatewayId;
      if (topic === topics.commandResult(o.bed) && env.commandResult) inbox.push(env.commandResult);
    } catch {
      /* not a vigil.v1 envelope: ignored */
    }
  });
  link.on('error', (err) => logger.warn('mqtt-error', { error: err.message }));
  const deadline = Date.now() + o.timeoutMs;
  const waitFor = async <T>(probe: () => T | undefined | null | false): Promise<T | null> => {
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    if (!(await waitFor(() => link.connected))) {
      print('no connection to the broker', { outcome: 'no-connection' });
      return 1;
    }
    await link.subscribe(topics.commandResult(o.bed), 1);
    if (!gatewayId) await link.subscribe(topics.status(o.bed), 1);
    if (!(await waitFor(() => gatewayId))) {
      print('no gateway known for this bed (no retained status): give --gateway', { outcome: 'no-gateway' });
      return 1;
    }
    const command = buildCommand(o.action, { ...o.bed, gatewayId: gatewayId as string }, o.user, o.stationId, Date.now());
    commandId = command.commandId;
    const sent = await publishCommand(link, o.bed, command, inbox, deadline - Date.now());
    if (sent.outcome === 'refused-by-broker') {
      print(`refused by the broker: ${sent.detail}`, { commandId, outcome: 'refused-by-broker', detail: sent.detail });
      return 1;
    }
    if (sent.outcome === 'no-answer') {
      print(`no answer from gateway ${gatewayId} within ${o.timeoutMs} ms`, { commandId, outcome: 'no-answer' });
      return 1;
    }
    const { result } = sent;
    const accepted = sent.outcome === 'accepted';
    print(
      accepted
        ? `accepted (${commandId})${result.detail ? `: ${result.detail}` : ''}`
        : `rejected (${commandId}): ${result.reason}${result.field ? ` [${result.field}]` : ''}: ${result.detail}`,
      { commandId, outcome: accepted ? 'accepted' : 'rejected', reason: result.reason, field: result.field, detail: result.detail },
    );
    return accepted ? 0 : 1;
  } finally {
    await link.end(false);
  }
}
