/**
 * The MQTT boundary: the ONLY file that imports `mqtt` (MQTT.js). Used by the agent
 * (publish, last will) and by the station view (subscribe). It reads credential and
 * certificate files itself, so their contents never pass through a log.
 *
 * Interface specification: docs/interfaces/mqtt.md.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { SecureVersion } from 'node:tls';
import mqtt from 'mqtt';
import type { Logger } from '../log';
import { PublishError } from '../errors';

export interface MqttWill {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  contentType?: string;
}

export interface MqttLinkOptions {
  url: string;
  protocolVersion: 4 | 5;
  clientId: string;
  keepaliveSec: number;
  reconnectPeriodMs: number;
  /** Plain TCP was asked for explicitly; a warning is logged at every connect attempt set-up. */
  insecure: boolean;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  usernameFile?: string | undefined;
  passwordFile?: string | undefined;
  will?: MqttWill;
  /**
   * false: a persistent session (the broker keeps the subscriptions and queues QoS 1
   * messages while this client is away, for `sessionExpirySec`). Default true.
   */
  clean?: boolean;
  sessionExpirySec?: number;
}

export interface PublishOptions {
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT v5 message expiry: the broker drops the message for late subscribers after this. */
  expirySec?: number;
  /** MQTT v5 content type, naming the protobuf message. */
  contentType?: string;
}

export interface MqttLinkEvents {
  connect: [];
  offline: [];
  close: [];
  message: [topic: string, payload: Buffer];
  error: [err: Error];
}

/** Passed through by MQTT.js to tls.connect (its option type does not list it). */
const TLS_FLOOR: { minVersion: SecureVersion } = { minVersion: 'TLSv1.2' };

function readSecret(file: string | undefined): Buffer | undefined {
  return file === undefined ? undefined : readFileSync(file);
}

/**
 * MQTT.js traces every packet through the `debug` package, which costs even when it prints nothing
 * (a station handles 3,000 packets a second): a no-op, unless DEBUG (read once, at start) asks for it.
 */
const MQTT_TRACE: { log?: () => void } = process.env.DEBUG ? {} : { log: () => undefined };

/** Longest a graceful close waits for the broker (acknowledgements, DISCONNECT). */
export const END_GRACE_MS = 2000;

/** A connected (or reconnecting) MQTT client. Reconnects by itself. */
export class MqttLink extends EventEmitter<MqttLinkEvents> {
  private readonly client: mqtt.MqttClient;
  private readonly v5: boolean;
  /** Set while the socket is held corked until the end of this turn of the event loop. */
  private uncorkTimer: NodeJS.Immediate | undefined;

  constructor(options: MqttLinkOptions, logger: Logger) {
    super();
    this.v5 = options.protocolVersion === 5;
    if (options.insecure) {
      logger.warn('mqtt-insecure', { detail: 'plain TCP to the broker: no encryption, no broker authentication', url: options.url });
    }
    const username = readSecret(options.usernameFile)?.toString('utf8').trim();
    const password = readSecret(options.passwordFile);
    const will = options.will;
    this.client = mqtt.connect(options.url, {
      ...MQTT_TRACE,
      protocolVersion: options.protocolVersion,
      clientId: options.clientId,
      keepalive: options.keepaliveSec,
      reconnectPeriod: options.reconnectPeriodMs,
      connectTimeout: 10_000,
      clean: options.clean ?? true,
      ...(this.v5 && options.sessionExpirySec !== undefined ? { properties: { sessionExpiryInterval: options.sessionExpirySec } } : {}),
      // TLS: the CA verifies the broker and Node checks the host name against the
      // certificate's subjectAltName; TLS 1.2 is the oldest version offered.
      rejectUnauthorized: true,
      ...TLS_FLOOR,
      ca: readSecret(options.caFile),
      cert: readSecret(options.certFile),
      key: readSecret(options.keyFile),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(will
        ? {
            will: {
              topic: will.topic,
              payload: Buffer.from(will.payload),
              qos: will.qos,
              retain: will.retain,
              ...(this.v5 && will.contentType ? { properties: { contentType: will.contentType } } : {}),
            },
          }
        : {}),
    });
    this.client.on('connect', () => this.emit('connect'));
    this.client.on('offline', () => this.emit('offline'));
    this.client.on('close', () => this.emit('close'));
    this.client.on('message', (topic, payload) => this.emit('message', topic, payload));
    // MQTT.js writes the acknowledgement of each QoS 1 message it receives in a write (a system
    // call) of its own: 3,000 a second for a station with a ward of 200 beds. The socket is held
    // corked while the messages of one read are handled, and written once at the end of the turn.
    this.client.on('packetreceive', () => this.corkUntilIdle());
    // MQTT.js reconnects after errors; they are reported, never thrown.
    this.client.on('error', (err) => this.emit('error', err));
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Corks the socket until the end of this turn of the event loop (setImmediate): what is written meanwhile leaves in one write. */
  private corkUntilIdle(): void {
    const stream = this.client.stream as (NodeJS.WritableStream & { cork?: () => void; uncork?: () => void }) | undefined;
    if (this.uncorkTimer || !stream || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
    stream.cork();
    this.uncorkTimer = setImmediate(() => {
      this.uncorkTimer = undefined;
      stream.uncork?.();
    });
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions): Promise<void> {
    const properties: Record<string, unknown> = {};
    if (this.v5 && options.expirySec !== undefined) properties.messageExpiryInterval = options.expirySec;
    if (this.v5 && options.contentType !== undefined) properties.contentType = options.contentType;
    return new Promise((resolve, reject) => {
      this.client.publish(
        topic,
        Buffer.from(payload),
        { qos: options.qos, retain: options.retain, ...(this.v5 ? { properties } : {}) },
        (err) => {
          if (!err) return resolve();
          // MQTT.js gives a broker refusal (PUBACK reason code) as an error with a numeric code.
          const code = (err as Error & { code?: unknown }).code;
          const brokerReasonCode = typeof code === 'number' && code >= 0x80 ? code : undefined;
          reject(new PublishError(`publish to ${topic} failed: ${err.message}`, { cause: err, ...(brokerReasonCode !== undefined ? { brokerReasonCode } : {}) }));
        },
      );
    });
  }

  subscribe(filter: string, qos: 0 | 1 | 2): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.subscribe(filter, { qos }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Closes the connection. `force` skips sending queued messages and the DISCONNECT.
   * Bounded: MQTT.js's graceful close waits for every unacknowledged QoS 1 message and, if the
   * connection is lost meanwhile, waits forever (it does not reconnect while closing). So the
   * close completes when MQTT.js says so, when the connection closes, or after
   * END_GRACE_MS, whichever comes first; then the socket is dropped. What was not
   * acknowledged is still in the durable queue for the next run.
   */
  end(force = false): Promise<void> {
    if (this.uncorkTimer) {
      // Acknowledgements held back by corkUntilIdle leave before the DISCONNECT.
      clearImmediate(this.uncorkTimer);
      this.uncorkTimer = undefined;
      (this.client.stream as { uncork?: () => void } | undefined)?.uncork?.();
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.client.removeListener('close', finish);
        this.client.stream?.destroy();
        resolve();
      };
      const timer = setTimeout(finish, END_GRACE_MS);
      this.client.once('close', finish);
      this.client.end(force, {}, finish);
    });
  }
}
