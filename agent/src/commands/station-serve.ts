/**
 * `vigil station serve`: the ward board in a browser (docs/interfaces/station-web.md). The station
 * process subscribes to the broker as the station (as `vigil station` does: the station model,
 * delivery receipts, one MQTT link), keeps the 4-hour trends, and serves the board over HTTPS
 * (station/web/server.ts). Commands given in the page are sent on the same link as the signed-in
 * user, and answered with the gateway's CommandResult.
 *
 * `vigil station add-user`: adds (or replaces) a user in the users file, the password read from stdin.
 */
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import { UsageError } from '../errors';
import { MqttLink } from '../io/mqtt';
import type { Logger } from '../log';
import { decodeEnvelope } from '../proto/codec';
import { parseTopic, topics } from '../publish/topics';
import type { StationAction } from '../station/commands';
import { buildCommand, parseBed } from '../station/commands';
import { ReceiptBook } from '../station/receipts';
import { StationModel } from '../station/station';
import type { UsersFile } from '../station/web/auth';
import { hashPassword, parseUsersFile, Sessions, UsersFileError, withUser } from '../station/web/auth';
import type { CommandAnswer, WardChange, WardDelta, WardSnapshot } from '../station/web/server';
import { FULL_WARD_EVERY_MS, StationWebServer } from '../station/web/server';
import { TrendBook } from '../station/web/trends';
import { CommandResultInbox, publishCommand, sendReceipts } from './station';

/** A command's answer is awaited this long (station-web.md, POST /api/command), as `vigil station ack`'s default. */
const COMMAND_TIMEOUT_MS = 10_000;
/** Trends are sampled this often (they keep one point per 5 s: trends.ts). */
const TREND_SAMPLE_MS = 1000;
/** The `station-web` counters are logged this often (station-web.md, Errors). */
const COUNTER_LOG_MS = 60_000;

export const SERVE_USAGE = `usage: vigil station serve --url mqtts://broker:8883 --ca-file F --cert-file F --key-file F [--station-id ID]
         --users FILE --listen HOST:PORT (--tls-cert F --tls-key F | --insecure-http)
         [--session-ttl-ms 28800000] [--allowed-origin URL]... [--silent-bed-ms 5000]
       vigil station add-user --users FILE --name NAME [--display-name TEXT] [--beds site/ward/*[,...]]   (password on stdin)`;

export interface ServeOptions {
  url: string;
  tls: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined };
  stationId: string | undefined;
  usersFile: string;
  host: string;
  port: number;
  web: { certFile: string; keyFile: string } | undefined;
  sessionTtlMs: number;
  allowedOrigins: string[];
  silentBedMs: number;
}

/** Whether `host` is a loopback address (where `--insecure-http` may listen). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function positiveInt(name: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}\n${SERVE_USAGE}`);
  return n;
}

/** Parses `vigil station serve` options; throws UsageError. */
export function parseServeArgs(args: string[]): ServeOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      url: { type: 'string' },
      'ca-file': { type: 'string' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
      'station-id': { type: 'string' },
      users: { type: 'string' },
      listen: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'insecure-http': { type: 'boolean', default: false },
      'session-ttl-ms': { type: 'string', default: '28800000' },
      'allowed-origin': { type: 'string', multiple: true, default: [] },
      'silent-bed-ms': { type: 'string', default: '5000' },
    },
  });
  if (!values.url) throw new UsageError(`--url is required\n${SERVE_USAGE}`);
  if (!values.users) throw new UsageError(`--users FILE is required\n${SERVE_USAGE}`);
  const listen = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(values.listen ?? '');
  if (!listen || Number(listen[3]) > 65535) throw new UsageError(`--listen HOST:PORT is required (e.g. 0.0.0.0:8443, [::1]:8443)\n${SERVE_USAGE}`);
  const host = (listen[1] ?? listen[2]) as string;
  const insecure = values['insecure-http'] === true;
  if (insecure && !isLoopback(host)) throw new UsageError('--insecure-http listens on a loopback address only (127.0.0.1, ::1, localhost): browsers on the ward network get HTTPS');
  if (insecure && (values['tls-cert'] || values['tls-key'])) throw new UsageError('--insecure-http and --tls-cert/--tls-key exclude each other');
  if (!insecure && (!values['tls-cert'] || !values['tls-key'])) throw new UsageError(`--tls-cert and --tls-key are required (or --insecure-http on loopback)\n${SERVE_USAGE}`);
  const stationId = values['station-id'];
  if (stationId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(stationId)) throw new UsageError('--station-id must be 1-64 letters, digits, - or _ (the station certificate\'s name)');
  const origins = values['allowed-origin'];
  const badOrigin = origins.find((o) => !/^https?:\/\/[^/\s]+$/.test(o));
  if (badOrigin !== undefined) throw new UsageError('--allowed-origin must be an origin: scheme://host[:port], no path');
  return {
    url: values.url,
    tls: { caFile: values['ca-file'], certFile: values['cert-file'], keyFile: values['key-file'] },
    stationId,
    usersFile: values.users,
    host,
    port: Number(listen[3]),
    web: insecure ? undefined : { certFile: values['tls-cert'] as string, keyFile: values['tls-key'] as string },
    sessionTtlMs: positiveInt('session-ttl-ms', values['session-ttl-ms'], 1000),
    allowedOrigins: origins,
    silentBedMs: positiveInt('silent-bed-ms', values['silent-bed-ms'], 100),
  };
}

/** Reads the users file; a file others may read is warned about (it holds password hashes). */
function loadUsers(file: string, logger: Logger): UsersFile {
  const users = parseUsersFile(readFileSync(file, 'utf8'));
  if ((statSync(file).mode & 0o077) !== 0) logger.warn('users-file-mode', { detail: 'the users file is readable by group or others: chmod 0600', file });
  return users;
}

/** The station's side: model, receipts, trends, command answers, fed by one MQTT link. */
export class WardFeed {
  readonly receipts: ReceiptBook | undefined;
  readonly model: StationModel;
  readonly trends = new TrendBook();
  readonly inbox = new CommandResultInbox();
  /** Per bed, when the station last received anything from it (monotonic ns): the `silent` rule. */
  private readonly lastHeardNs = new Map<string, bigint>();
  /** Per bed, `silent` as the last `changes()` reported it. */
  private readonly reportedSilent = new Map<string, boolean>();
  /** The rolling refresh: the next bed to send whole, and when `changes()` was last called (monotonic ns). */
  private refreshCursor = 0;
  private lastChangesNs: bigint | undefined;

  constructor(
    private readonly o: ServeOptions,
    private readonly clock: Clock,
    stationId: string | undefined,
  ) {
    this.receipts = stationId ? new ReceiptBook() : undefined;
    this.model = new StationModel(this.receipts);
  }

  /** One MQTT message; true when it changed what the board shows. */
  apply(topic: string, payload: Buffer): boolean {
    const address = parseTopic(topic);
    if (!address || address.kind === 'cmd' || address.kind === 'receipt') return false; // what stations send
    const bed = `${address.siteId}/${address.wardId}/${address.bedId}`;
    if (payload.length > 0) this.lastHeardNs.set(bed, this.clock.monoNs());
    const applied = this.model.apply(topic, payload, this.clock.wallMs(), address);
    if (!applied) return false;
    if (address.kind === 'alarm' || address.kind === 'cmd-result') this.noteDecoded(bed, payload);
    return true;
  }

  /** The whole ward (a stream's first event, every FULL_WARD_EVERY_MS, after a skipped event). */
  ward(connected: boolean): WardSnapshot {
    const now = this.clock.wallMs();
    const mono = this.clock.monoNs();
    return {
      t: now,
      connected,
      beds: this.model.view(now).map((v) => ({ ...v, ...this.silence(v.bed, mono) })),
    };
  }

  /**
   * What changed since the previous call other than by ageing (StationModel.changes, and the
   * `silent` rule): the beds of a partial `ward` event, each with only its changed parts. Besides,
   * a rolling refresh: a few beds whole at each call, so that every bed is sent whole at least every
   * FULL_WARD_EVERY_MS (ages and the counts that come only whole re-synchronised) without ever
   * sending the whole ward at once (station-web.md, The `ward` events).
   */
  changes(connected: boolean): WardDelta {
    const now = this.clock.wallMs();
    const mono = this.clock.monoNs();
    const beds: WardChange[] = this.model.changes(now);
    const byBed = new Map(beds.map((c) => [c.bed, c]));
    const keys = [...this.model.beds.keys()];
    const sinceMs = this.lastChangesNs === undefined ? 0 : Number(mono - this.lastChangesNs) / 1e6;
    this.lastChangesNs = mono;
    const wholeCount = Math.min(keys.length, Math.ceil((keys.length * sinceMs) / FULL_WARD_EVERY_MS));
    for (let i = 0; i < wholeCount; i += 1) {
      const key = keys[(this.refreshCursor + i) % keys.length] as string;
      const whole = this.model.viewOf(key, now) as WardChange;
      const change = byBed.get(key);
      if (change) Object.assign(change, whole);
      else {
        beds.push(whole);
        byBed.set(key, whole);
      }
      this.reportedSilent.delete(key); // its `silent` goes with it (below)
    }
    this.refreshCursor = keys.length === 0 ? 0 : (this.refreshCursor + wholeCount) % keys.length;
    for (const bed of keys) {
      const silence = this.silence(bed, mono);
      if (this.reportedSilent.get(bed) === silence.silent) continue;
      this.reportedSilent.set(bed, silence.silent);
      let change = byBed.get(bed);
      if (!change) beds.push((change = { bed }));
      Object.assign(change, silence);
    }
    return { t: now, connected, partial: true, beds };
  }

  /** Whether the station hears nothing from `bed` (the `silent` rule) and for how long. */
  private silence(bed: string, mono: bigint): { lastMessageAgeMs: number | null; silent: boolean } {
    const heard = this.lastHeardNs.get(bed);
    const lastMessageAgeMs = heard === undefined ? null : Math.round(Number(mono - heard) / 1e6);
    return { lastMessageAgeMs, silent: lastMessageAgeMs === null || lastMessageAgeMs > this.o.silentBedMs };
  }

  /**
   * Sends `action` to `bedText`'s gateway as `user` on `link` (the path `vigil station ack` uses:
   * publishCommand) and waits COMMAND_TIMEOUT_MS for the gateway's answer.
   */
  async command(link: MqttLink, stationId: string, user: string, bedText: string, action: StationAction, logger: Logger): Promise<CommandAnswer> {
    const bed = parseBed(bedText);
    const state = this.model.beds.get(bedText);
    if (!bed || !state) return { error: 'unknown-bed' };
    if (!link.connected) return { error: 'broker-not-connected' };
    const cmd = buildCommand(action, { ...bed, gatewayId: state.gatewayId }, user, stationId, this.clock.wallMs());
    const sent = await publishCommand(link, bed, cmd, this.inbox, COMMAND_TIMEOUT_MS);
    if (sent.outcome === 'refused-by-broker') {
      logger.warn('web-command-refused-by-broker', { user, bed: bedText, error: sent.detail });
      return { error: 'refused-by-broker' };
    }
    if (sent.outcome === 'no-answer') return { error: 'no-answer' };
    return { status: sent.outcome, reason: sent.result.reason };
  }

  /** Alarm changes go to the alarm log; command answers to whoever waits for them. */
  private noteDecoded(bed: string, payload: Buffer): void {
    let env: ReturnType<typeof decodeEnvelope>;
    try {
      env = decodeEnvelope(payload);
    } catch {
      return; // the model decoded it (checked); nothing more to learn
    }
    if (env.commandResult) this.inbox.push(env.commandResult);
    const a = env.alarm;
    if (!a) return;
    // The enum's last word (ALARM_STATE_CLEARED -> cleared): the log reads alarms, it builds none.
    const lower = (s: string): string => s.slice(s.lastIndexOf('_') + 1).toLowerCase();
    this.trends.noteAlarm(bed, {
      wallMs: Number(a.changedWallMs),
      alarmId: a.alarmId,
      state: lower(a.state),
      priority: lower(a.priority),
      detail: a.detail,
      by: a.acknowledgedBy ?? '',
    });
  }
}

/** Runs `vigil station serve` until SIGINT/SIGTERM; returns the exit code. */
export async function runStationServe(args: string[], logger: Logger, out: NodeJS.WritableStream = process.stdout, clock: Clock = systemClock): Promise<number> {
  const o = parseServeArgs(args);
  let users: UsersFile;
  try {
    users = loadUsers(o.usersFile, logger);
  } catch (err) {
    if (err instanceof UsersFileError) throw new UsageError(`${o.usersFile}: ${err.message}`);
    throw new UsageError(`${o.usersFile}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!o.web) logger.warn('web-insecure', { detail: 'plain HTTP on loopback (--insecure-http): for tests and make run only, never a ward network', host: o.host });
  const stationId = o.stationId;
  const commandStationId = stationId ?? `station-${hostname()}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  const feed = new WardFeed(o, clock, stationId);
  const link = new MqttLink(
    {
      url: o.url,
      protocolVersion: 5,
      clientId: `vigil-station-web-${process.pid}`,
      keepaliveSec: 10,
      reconnectPeriodMs: 1000,
      insecure: !/^(mqtts|ssl):/.test(o.url),
      ...o.tls,
    },
    logger,
  );
  const sessions = new Sessions(users, o.sessionTtlMs, clock);
  const server = new StationWebServer({
    host: o.host,
    port: o.port,
    tls: o.web,
    allowedOrigins: o.allowedOrigins,
    sessions,
    clock,
    logger,
    ward: () => feed.ward(link.connected),
    changes: () => feed.changes(link.connected),
    trends: (bed) => feed.trends.trends(bed, clock.wallMs()),
    command: (user, bed, action) => feed.command(link, commandStationId, user, bed, action, logger),
  });
  link.on('message', (topic, payload) => {
    if (feed.apply(topic, payload)) server.notify();
  });
  link.on('connect', () => {
    link.subscribe(topics.all, 1).catch((err: Error) => logger.error('subscribe-failed', { error: err.message }));
    feed.receipts?.resendAll(); // a receipt lost with the old connection is said again
    server.notify();
  });
  // The broker lost: the page says so in the next event (station-web.md, Timing: within 1 s).
  link.on('offline', () => server.notify());
  link.on('close', () => server.notify());
  link.on('error', (err) => logger.warn('mqtt-error', { error: err.message }));
  const port = await server.start();
  const url = `${o.web ? 'https' : 'http'}://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/`;
  logger.info('web-listening', { url });
  out.write(`ward board: ${url}\n`);
  const timers = [
    setInterval(() => feed.trends.sample(feed.model.view(clock.wallMs()), clock.wallMs()), TREND_SAMPLE_MS),
    setInterval(() => logger.info('station-web', { counters: server.counters.snapshot(), sessions: sessions.size, streams: server.eventStreams, trendPoints: feed.trends.points }), COUNTER_LOG_MS),
    ...(feed.receipts && stationId ? [setInterval(sendReceipts, 250, link, feed.receipts, stationId, logger)] : []),
  ];
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      for (const t of timers) clearInterval(t);
      void server.close().then(() => link.end(true)).then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/** Reads all of stdin (the password: never on the command line, where `ps` shows it). */
async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of input) text += chunk.toString();
  return text;
}

/** `vigil station add-user`: writes the users file (mode 0600) with the user added or replaced. */
export async function runAddUser(args: string[], stdin: NodeJS.ReadableStream = process.stdin, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { users: { type: 'string' }, name: { type: 'string' }, 'display-name': { type: 'string' }, beds: { type: 'string', default: '' } },
  });
  if (!values.users || !values.name) throw new UsageError(`--users FILE and --name NAME are required\n${SERVE_USAGE}`);
  const password = (await readAll(stdin)).replace(/\r?\n$/, '');
  if (password.length < 8) throw new UsageError('the password (on stdin) must be at least 8 characters');
  let current: UsersFile | null = null;
  try {
    current = existsSync(values.users) ? parseUsersFile(readFileSync(values.users, 'utf8')) : null;
  } catch (err) {
    if (err instanceof UsersFileError) throw new UsageError(`${values.users}: ${err.message}`);
    throw err;
  }
  const beds = (values.beds ?? '').split(',').map((b) => b.trim()).filter((b) => b.length > 0);
  const next = withUser(current, { name: values.name, displayName: values['display-name'] ?? values.name, scrypt: hashPassword(password), beds });
  // Checked as the server will read it: a bad name or bed pattern is refused now, not at start.
  try {
    parseUsersFile(JSON.stringify(next));
  } catch (err) {
    if (err instanceof UsersFileError) throw new UsageError(err.message);
    throw err;
  }
  writeFileSync(values.users, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  chmodSync(values.users, 0o600);
  out.write(`user ${values.name} written to ${values.users} (${beds.length > 0 ? `may act on ${beds.join(', ')}` : 'may act on no bed'})\n`);
  return 0;
}
