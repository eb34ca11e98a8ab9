/**
 * What the delivery, command and security system tests need besides the processes: a
 * subscriber that sees what a station would (optionally with a persistent session, so
 * that messages published while it reconnects after a broker restart are kept for it),
 * a raw command sender, a single connection attempt (refused or let in), and polling with a
 * deadline. Over TLS each of them connects with certificate files of its own: the broker makes
 * the certificate's name the client id (one certificate per client process).
 */
import { MqttLink } from '../../agent/src/io/mqtt';
import type { MqttLinkOptions } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import type { EnvelopeMsg } from '../../agent/src/proto/codec';
import { decodeEnvelope } from '../../agent/src/proto/codec';

export interface Received {
  topic: string;
  env: EnvelopeMsg;
  atMs: number;
}

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface Observer {
  link: MqttLink;
  got: Received[];
  end(): Promise<void>;
}

let counter = 0;

/** Connects and resolves once connected (rejects on the first error when `failFast`). */
export function connectLink(
  url: string,
  o: { tls?: TlsFiles | undefined; clientId?: string; persistent?: boolean; protocolVersion?: 4 | 5; reconnectPeriodMs?: number } = {},
): Promise<MqttLink> {
  counter += 1;
  const link = new MqttLink(
    {
      url,
      protocolVersion: o.protocolVersion ?? 5,
      clientId: o.clientId ?? `test-${process.pid}-${counter}`,
      keepaliveSec: 5,
      reconnectPeriodMs: o.reconnectPeriodMs ?? 200,
      insecure: !o.tls,
      ...(o.tls ?? {}),
      ...(o.persistent ? { clean: false, sessionExpirySec: 600 } : {}),
    },
    memoryLogger(),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection to ${url} within 10 s`)), 10_000);
    link.once('connect', () => {
      clearTimeout(timer);
      resolve(link);
    });
    link.on('error', () => undefined); // reconnects by itself; errors are what some tests expect
  });
}

/** One connection attempt without retry: 'connected', or the error that refused it. */
export function attemptConnect(url: string, o: Partial<MqttLinkOptions>): Promise<string> {
  const link = new MqttLink(
    { url, protocolVersion: 5, clientId: `attempt-${Math.random()}`, keepaliveSec: 5, reconnectPeriodMs: 0, insecure: !url.startsWith('mqtts'), ...o },
    memoryLogger(),
  );
  return new Promise((resolve) => {
    let settled = false;
    const done = (what: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void link.end(true).then(() => resolve(what));
    };
    const timer = setTimeout(() => done('no answer'), 5000);
    link.on('connect', () => done('connected'));
    link.on('error', (err) => done(err.message)); // kept: later errors of the same attempt are expected
    link.on('close', () => setTimeout(() => done('closed by the broker'), 100)); // an error, if any, comes first
  });
}

/** Subscribes to every Vigil topic and decodes what arrives. */
export async function observe(
  url: string,
  o: { tls?: TlsFiles | undefined; persistent?: boolean; filter?: string; protocolVersion?: 4 | 5 } = {},
): Promise<Observer> {
  counter += 1;
  const link = await connectLink(url, {
    ...o,
    clientId: `test-observer-${process.pid}-${counter}`,
  });
  const got: Received[] = [];
  link.on('message', (topic, payload) => {
    if (payload.length === 0) return;
    try {
      got.push({ topic, env: decodeEnvelope(payload), atMs: Date.now() });
    } catch {
      /* not an envelope (a command on .../cmd): the tests look at envelopes */
    }
  });
  await link.subscribe(o.filter ?? 'vigil/v1/#', 1);
  return { link, got, end: () => link.end(true) };
}

export async function until<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Drops duplicates by message id, as the station does. */
export function dedupe(got: readonly Received[]): { unique: Received[]; duplicates: number } {
  const seen = new Set<string>();
  const unique: Received[] = [];
  for (const r of got) {
    if (seen.has(r.env.messageId)) continue;
    seen.add(r.env.messageId);
    unique.push(r);
  }
  return { unique, duplicates: got.length - unique.length };
}

/** The status counters of the latest status message, as numbers. */
export function lastCounters(got: readonly Received[]): Record<string, number> {
  const s = [...got].reverse().find((r) => r.env.status?.online)?.env.status;
  return Object.fromEntries((s?.counters ?? []).map((c) => [c.name, Number(c.value)]));
}
