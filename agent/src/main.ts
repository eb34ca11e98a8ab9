/**
 * The composition root, read as the system diagram:
 *
 *   device bytes -> driver (framing + decode) -> validation (interface risk controls)
 *                -> native NEWS2 score -> safety (alarms, staleness)
 *                -> publisher (protobuf) -> durable queue -> MQTT -> nurses' station
 *   nurses' station -> commands (validated) -> manual NEWS2 inputs, alarm acknowledge
 *
 * Load config, build each stage, wire them, start. No module-level singletons: the
 * config, logger and clock are passed in.
 */
import { hostname } from 'node:os';
import type { Clock } from './clock';
import { elapsedMs } from './clock';
import type { Config } from './config';
import type { DeviceDriver, InterfaceSnapshot, LinkChange } from './drivers/driver';
import { Hl7Pcd01Driver } from './drivers/hl7-pcd01/driver';
import { MasimoAsciiDriver } from './drivers/masimo-ascii/driver';
import { VigilPatchDriver } from './drivers/vigil-patch/driver';
import { agentEffects } from './commands-in/effects';
import { ManualObservations } from './commands-in/manual';
import type { ManualParameter } from './commands-in/manual';
import { COMMAND_STATE_RECORD, CommandStateKeeper } from './commands-in/persistence';
import { IDENTITY_STATE_RECORD, IdentityKeeper } from './drivers/bound-identities';
import { CommandStage } from './commands-in/stage';
import type { StateStore } from './io/durable-queue';
import { MqttLink } from './io/mqtt';
import type { Logger } from './log';
import type { Observation } from './model/observation';
import type { ParameterCode } from './model/parameters';
import { PARAMETERS, PARAMETER_TABLE_VERSION } from './model/parameters';
import { Delivery } from './publish/delivery';
import type { Outbox } from './publish/outbox';
import type { MessageSink } from './publish/publisher';
import { Publisher } from './publish/publisher';
import { LoadShedder } from './publish/shedding';
import { topics } from './publish/topics';
import type { CommandResultMsg, CounterMsg, GatewayStatusMsg } from './proto/codec';
import { AlarmBook, RateWindow } from './safety/alarms';
import { LoopDelayWindow, LoopUtilization } from './safety/loop-delay';
import { LoopMonitor, ProgressGate } from './safety/watchdog';
import type { Supervisor } from './io/systemd';
import type { AlarmPriority } from './safety/alarms';
import type { News2Scorer } from './scoring/news2-stage';
import { News2Stage } from './scoring/news2-stage';
import { VitalsStore } from './scoring/vitals';
import { ValidationStage } from './validation/stage';

export const SOFTWARE_VERSION = '0.1.0';
const LINK_STATE_ENUM = {
  connecting: 'LINK_STATE_CONNECTING',
  negotiating: 'LINK_STATE_NEGOTIATING',
  streaming: 'LINK_STATE_STREAMING',
  stale: 'LINK_STATE_STALE',
  lost: 'LINK_STATE_LOST',
} as const;

export interface AgentDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  scorer: News2Scorer;
  /** Builds the MQTT link; tests may substitute a fake sink. */
  connect?: (will: { topic: string; payload: Uint8Array }) => MessageSink & { end(force?: boolean): Promise<void> };
  /** Period of the safety tick (staleness, quiet time). */
  tickMs?: number;
  /** systemd (Type=notify, WatchdogSec=); absent when not supervised. */
  supervisor?: Supervisor;
  /** Drivers built by the caller (integration tests); default: one per configured interface. */
  drivers?: DeviceDriver[];
  /**
   * The durable queue, opened by the caller (commands/run.ts: opening is asynchronous and
   * must fail the start-up). Required unless `connect` is given.
   */
  outbox?: Outbox;
  /**
   * What is kept across a restart besides messages, as state records in the durable queue's
   * store: the station's accepted commands (commands-in/persistence.ts) and the learned device
   * identities (drivers/bound-identities.ts). `saved`: the records an earlier run left, by
   * name; `bootId`: the kernel's id of this boot. Without it (unit tests), memory only.
   */
  durableState?: { store: StateStore; bootId: string; saved: ReadonlyMap<string, Uint8Array> };
}

export interface RunningAgent {
  publisher: Publisher;
  stop(reason: string): Promise<void>;
  /** Runs one safety tick now (tests drive it with a fake clock). */
  tick(): void;
  statusMessage(online: boolean, reason: string): GatewayStatusMsg;
  /** The progress gate behind the systemd watchdog. */
  gate: ProgressGate;
  /** Handles a command payload from the station and publishes its result (tests call it directly). */
  handleCommand(payload: Uint8Array): CommandResultMsg;
}

function createDriver(itf: Config['interfaces'][number], patient: Config['patient'], clock: Clock, logger: Logger): DeviceDriver {
  switch (itf.driver) {
    case 'masimo-ascii':
      return new MasimoAsciiDriver(itf, clock, logger);
    case 'hl7-pcd01':
      return new Hl7Pcd01Driver(itf, patient, clock, logger);
    case 'vigil-patch':
      return new VigilPatchDriver(itf, clock, logger);
  }
}

function counterList(counts: Record<string, number>): CounterMsg[] {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}

/** Longest one step of a stop may take (drivers, offline status, MQTT close); systemd allows 15 s in all. */
export const STOP_STEP_MS = 3000;

export function startAgent(deps: AgentDeps): RunningAgent {
  const { config, clock, logger, scorer } = deps;
  const identity = { ...config.gateway };
  const startedWallMs = clock.wallMs();
  const counters: Record<string, number> = {};
  const count = (name: string): void => {
    counters[name] = (counters[name] ?? 0) + 1;
  };
  const maxAgeMs = (p: ParameterCode): number => config.maxAgeMs[p] ?? PARAMETERS[p].defaultMaxAgeMs;
  const interfaceConfig = new Map(config.interfaces.map((i) => [i.id, i]));

  // --- stages ---------------------------------------------------------------------
  const drivers = deps.drivers ?? config.interfaces.map((itf) => createDriver(itf, config.patient, clock, logger));
  const validation = new ValidationStage({
    maxAgeMs: (spec) => maxAgeMs(spec.code),
    clockOffsetBoundMs: config.clockOffsetBoundMs,
    frozenWindowMs: config.safety.frozenWindowMs,
  });
  const store = new VitalsStore(clock, maxAgeMs, (id) => interfaceConfig.get(id)?.scoreUnverified ?? false);
  const manual = new ManualObservations(clock, config.commands.manualMaxAgeMs);
  const news2 = new News2Stage(
    scorer,
    store,
    clock,
    () => manual.spo2Scale() ?? config.patient.spo2Scale,
    drivers.map((d) => d.interfaceId),
    () => manual.inputs(),
    config.news2Priority,
  );
  const alarms = new AlarmBook(clock);
  const nativeFailures = new RateWindow(clock, 60_000);
  const rejectWindows = new Map(drivers.map((d) => [d.interfaceId, new RateWindow(clock, config.rejectAlarm.windowMs)]));

  let sink: (MessageSink & { end(force?: boolean): Promise<void> }) | null = null;
  let delivery: Delivery | null = null;
  const deferredSink: MessageSink = {
    publish: (topic, payload, options) =>
      sink ? sink.publish(topic, payload, options) : Promise.reject(new Error('not connected')),
    get connected() {
      return sink?.connected;
    },
  };
  // Under overload the least important messages are not produced: extras, then vitals and scores, never alarms.
  const shedder = new LoadShedder(clock);
  const publisher = new Publisher(deferredSink, identity, clock, logger, shedder);

  const statusMessage = (online: boolean, reason: string): GatewayStatusMsg => {
    const snapshots: InterfaceSnapshot[] = drivers.map((d) => d.snapshot());
    return {
      online,
      reason,
      interfaces: snapshots.map((s) => {
        const health = validation.health(s.interfaceId);
        return {
          interfaceId: s.interfaceId,
          driver: s.driver,
          state: LINK_STATE_ENUM[s.state],
          reason: s.reason,
          lastValidFrameWallMs: s.lastValidFrameWallMs,
          counters: counterList({ ...s.counters, ...health.counters }),
          clockOffsetMs: Math.round(health.clockOffsetMs ?? 0),
          clockTrusted: health.clockTrusted,
          clockMeasured: health.clockOffsetMs !== null,
        };
      }),
      counters: counterList({
        ...counters,
        published: publisher.counters.published,
        'publish-failed': publisher.counters.publishFailed,
        'state-skipped-offline': publisher.counters.stateSkippedOffline,
        ...(delivery?.counters() ?? {}),
        ...commands.counters(),
        ...loopDelay.counters(),
        ...shedder.counters(),
      }),
      startedWallMs,
      heartbeatIntervalMs: config.mqtt.heartbeatIntervalMs,
      softwareVersion: `${SOFTWARE_VERSION} (parameters v${PARAMETER_TABLE_VERSION})`,
    };
  };

  // --- wiring -----------------------------------------------------------------------
  const raise = (condition: string, source: string, priority: AlarmPriority, detail: string, kind: 'technical' | 'physiological' = 'technical'): void => {
    const msg = alarms.raise(kind, condition, source, priority, detail);
    if (msg) {
      logger.warn('alarm-raised', { alarmId: msg.alarmId, priority, detail });
      void publisher.alarm(msg);
    }
  };
  const clear = (condition: string, source: string): void => {
    const msg = alarms.clear(condition, source);
    if (msg) {
      logger.info('alarm-cleared', { alarmId: msg.alarmId });
      void publisher.alarm(msg);
    }
  };

  const publishScore = (): void => {
    for (const obs of store.expire()) withdraw(obs, 'max-age-exceeded');
    let result: ReturnType<News2Stage['compute']>;
    try {
      result = news2.compute();
    } catch (err) {
      // A panic or error inside the native addon loses this computation only: counted,
      // alarmed on repetition, and the stage carries on (the station's score expires).
      count('native-failures');
      logger.error('native-failure', { stage: 'news2', error: (err as Error).message });
      if (nativeFailures.add() >= 3) {
        raise('native-failure', 'gateway', 'medium', 'the native NEWS2 score failed repeatedly');
      }
      return;
    }
    if (nativeFailures.count() === 0) clear('native-failure', 'gateway');
    if (!result.ok) {
      count(`score-rejected.${result.field}`);
      logger.error('score-rejected', { field: result.field, rule: result.rule });
      raise('score-input-rejected', 'gateway', 'medium', `NEWS2 rejected ${result.field}: ${result.rule}`);
      return;
    }
    clear('score-input-rejected', 'gateway');
    void publisher.score(result.message);
    if (result.riskLevel === 'high') raise('news2-high', 'gateway', 'high', 'NEWS2 risk high', 'physiological');
    else clear('news2-high', 'gateway');
    if (result.riskLevel === 'medium') raise('news2-medium', 'gateway', 'medium', 'NEWS2 risk medium', 'physiological');
    else clear('news2-medium', 'gateway');
  };

  /** Withdraws a value: subscribers get "unavailable" with the reason; the score loses it. */
  const withdraw = (last: Observation, reason: string): void => {
    store.withdraw(last.parameter, last.source.interfaceId);
    count('values-withdrawn');
    validation.count(last.source.interfaceId, `values-withdrawn.${reason}`);
    void publisher.observation(
      {
        parameter: last.parameter,
        value: null,
        unitUcum: PARAMETERS[last.parameter].unitUcum,
        status: 'unavailable',
        quality: ['stale'],
        source: last.source,
        deviceTimeMs: null,
        deviceTimeText: '',
        receiveWallMs: clock.wallMs(),
        receiveMonoNs: clock.monoNs(),
        unavailableReason: reason,
      },
      maxAgeMs(last.parameter),
    );
  };

  // Commands from the station (commands-in/): manual observations, alarm acknowledge and
  // silence, confirming a changed device. Each is answered on .../cmd-result.
  const commands = new CommandStage(
    identity,
    config.commands,
    clock,
    logger,
    agentEffects({
      alarms,
      drivers,
      manual,
      publishObservation: (m) => void publisher.observationMsg(m),
      publishAlarm: (m) => void publisher.alarm(m),
      rescore: () => publishScore(),
      clearAlarm: (condition, source) => clear(condition, source),
      logger,
    }),
  );
  // State kept across a restart: what accepted commands leave (manual inputs, remembered
  // ids), on disk before the command is answered accepted, and the learned device
  // identities. A failed write is alarmed and retried every safety tick until it succeeds.
  const durable = deps.durableState;
  const keeper = durable ? new CommandStateKeeper(durable.store, durable.bootId, clock, commands, manual) : null;
  const identities = durable ? new IdentityKeeper(durable.store, drivers) : null;
  const stateProblems = new Map<string, string>();
  const saveRecord = async (record: string, save: () => Promise<string | null>, loss: string): Promise<string | null> => {
    const error = await save();
    if (error === null) {
      stateProblems.delete(record);
      return null;
    }
    count(`state-save-failed.${record}`);
    if (!stateProblems.has(record)) logger.error('state-save-failed', { record, error, retry: 'every safety tick until saved' });
    stateProblems.set(record, `${record} not saved (${error}): ${loss}`);
    return error;
  };
  const saveCommandState = () => saveRecord(COMMAND_STATE_RECORD, () => keeper!.save(), 'accepted manual inputs would be lost on a restart');
  const saveIdentities = () => saveRecord(IDENTITY_STATE_RECORD, () => identities!.save(), 'a device swapped during a restart would not be held back');
  const stateRestored = (record: string, report: { outcome: string; reason?: string }, detail: Record<string, unknown>): void => {
    if (report.outcome === 'none') return;
    if (report.outcome === 'unreadable') {
      count(`state-unreadable.${record}`);
      logger.error('state-unreadable', { record, reason: report.reason });
    } else {
      logger.info('state-restored', { record, outcome: report.outcome, ...detail });
    }
  };
  const restored = keeper?.restore(durable?.saved.get(COMMAND_STATE_RECORD));
  if (restored) {
    const { observations: _published, ...report } = restored;
    stateRestored(COMMAND_STATE_RECORD, restored, report);
  }
  const restoredIdentities = identities?.restore(durable?.saved.get(IDENTITY_STATE_RECORD));
  if (restoredIdentities) stateRestored(IDENTITY_STATE_RECORD, restoredIdentities, { restored: restoredIdentities.restored, ignored: restoredIdentities.ignored });
  const handleCommand = (payload: Uint8Array): CommandResultMsg => {
    const result = commands.handle(payload);
    if (!keeper?.changed) {
      void publisher.commandResult(result);
      return result;
    }
    void saveCommandState().then((error) => {
      if (error !== null && result.outcome === 'COMMAND_OUTCOME_ACCEPTED') result.detail = `${result.detail ? `${result.detail}; ` : ''}not saved: lost on a restart`;
      return publisher.commandResult(result);
    });
    return result;
  };

  const recovering = new Set<string>();
  const NOTICE_PRIORITY: Record<string, AlarmPriority> = { 'HAZ-001': 'low', 'HAZ-004': 'low' };

  for (const driver of drivers) {
    driver.on('observations', (emitted) => {
      // HAZ-007/HAZ-009: a device repeating identical values (stuck) is flagged and alarmed.
      const frozen = validation.checkFrozen(driver.interfaceId, emitted);
      if (frozen.changed && frozen.frozen) {
        raise('frozen-values', driver.interfaceId, 'medium', 'the device repeats identical values: it may be stuck');
      } else if (frozen.changed) {
        clear('frozen-values', driver.interfaceId);
      }
      // The first values after a stale or lost link are flagged `recovered`, so the station
      // can show that data resumed after a gap.
      const recovered = recovering.delete(driver.interfaceId);
      const extra = [...(frozen.frozen ? (['frozen'] as const) : []), ...(recovered ? (['recovered'] as const) : [])];
      const observations =
        extra.length > 0
          ? emitted.map((o): Observation => ({ ...o, quality: [...new Set([...o.quality, ...extra])].sort() }))
          : emitted;
      for (const raw of observations) {
        const verdict = validation.check(raw);
        if (!verdict.ok) {
          count(`observations-rejected.${verdict.rule}`);
          logger.warn('observation-rejected', {
            interfaceId: driver.interfaceId,
            hazard: verdict.hazard,
            field: verdict.field,
            rule: verdict.rule,
          });
          raise(`value-rejected.${verdict.rule}`, driver.interfaceId, 'medium', verdict.detail);
          // A rejected value also withdraws what the same source said before: the
          // station must not go on showing an older value as if nothing happened.
          const previous = store.get(raw.parameter, driver.interfaceId);
          if (previous && previous.value !== null) withdraw(previous, `rejected-${verdict.rule}`);
          continue;
        }
        for (const n of verdict.notices) {
          if (n.condition === 'device-clock-trusted') clear('device-clock-untrusted', driver.interfaceId);
          else raise(n.condition, driver.interfaceId, NOTICE_PRIORITY[n.hazard] ?? 'low', n.detail);
        }
        count('observations-accepted');
        store.update(verdict.obs);
        void publisher.observation(verdict.obs, maxAgeMs(verdict.obs.parameter));
      }
      const flags = new Set(observations.flatMap((o) => o.quality));
      if (flags.has('sensor-off') || flags.has('no-sensor')) {
        raise('sensor-off', driver.interfaceId, 'medium', 'device reports sensor off or no sensor');
      } else {
        clear('sensor-off', driver.interfaceId);
      }
      publishScore();
    });
    driver.on('rejected', (r) => {
      count(`frames-rejected.${r.reason}`);
      logger.warn('frame-rejected', { interfaceId: r.interfaceId, reason: r.reason, detail: r.detail });
      // A different device, or (HL7 PID-3) another patient: held back, high-priority alarm.
      if (r.reason === 'device-changed' || r.reason === 'device-identity' || r.reason === 'patient-mismatch') {
        raise('device-identity', r.interfaceId, 'high', r.detail);
        return;
      }
      const window = rejectWindows.get(r.interfaceId);
      const n = window ? window.add() : 1;
      if (n >= config.rejectAlarm.count) {
        raise('frames-rejected', r.interfaceId, 'low', `${n} frames rejected within ${config.rejectAlarm.windowMs} ms (last: ${r.reason})`);
      }
    });
    // Conditions a driver detects by itself (a patch's low battery, failing signal processing).
    driver.on('condition', (c) => {
      if (c.active) raise(c.condition, c.interfaceId, c.priority, c.detail);
      else clear(c.condition, c.interfaceId);
    });
    driver.on('link', (change: LinkChange) => {
      if (change.to === 'streaming') {
        clear('link-stale', change.interfaceId);
        clear('link-lost', change.interfaceId);
      } else if (change.to === 'stale' || change.to === 'lost') {
        recovering.add(change.interfaceId);
        // IEC 60601-1-8: loss of a monitored parameter is a technical alarm of medium priority.
        validation.count(change.interfaceId, `link-${change.to}`);
        raise(`link-${change.to}`, change.interfaceId, 'medium', change.reason);
        for (const parameter of store.parametersFrom(change.interfaceId)) {
          const last = store.get(parameter, change.interfaceId);
          if (last) withdraw(last, `link-${change.to}`);
        }
        publishScore();
      }
      // Interface health is published on change, not only with the heartbeat.
      void publisher.status(statusMessage(true, `link-${change.to}`));
    });
  }

  // --- supervision (safety/watchdog.ts): progress of every mandatory stage -----------
  const gate = new ProgressGate(clock);
  gate.register('tick', 5_000);
  gate.register('publisher', Math.max(30_000, 3 * config.mqtt.heartbeatIntervalMs));
  for (const d of drivers) {
    const quietTimeMs = interfaceConfig.get(d.interfaceId)?.quietTimeMs ?? 3000;
    gate.register(`driver:${d.interfaceId}`, Math.max(10_000, 2 * quietTimeMs));
    d.on('observations', () => gate.progress(`driver:${d.interfaceId}`));
  }
  let lastPublished = 0;
  let lastStallMono: bigint | null = null;
  // Event-loop delay percentiles per heartbeat window, in the status counters (docs/benchmarks.md).
  const loopDelay = new LoopDelayWindow();
  const loopUtilization = new LoopUtilization();
  const loopMonitor = new LoopMonitor(clock, 100, config.safety.eventLoopStallMs, (lagMs) => {
    count('event-loop-stalls');
    lastStallMono = clock.monoNs();
    logger.error('event-loop-stall', { lagMs });
    raise('event-loop-stall', 'gateway', 'low', `event loop blocked for ${lagMs} ms`);
  });

  const superviseTick = (): void => {
    gate.progress('tick');
    for (const d of drivers) {
      // A driver that is not streaming declares why, renewed every tick while it lasts
      // (it is reopening its port or waiting out its quiet time); one that is streaming
      // must show valid frames.
      const snap = d.snapshot();
      if (snap.state !== 'streaming') gate.declare(`driver:${d.interfaceId}`, `link-${snap.state}: ${snap.reason}`);
    }
    const published = publisher.counters.published;
    if (published > lastPublished) gate.progress('publisher');
    else if (!deferredSink.connected) gate.declare('publisher', 'broker-unreachable: queueing');
    lastPublished = published;
    if (lastStallMono !== null && elapsedMs(lastStallMono, clock.monoNs()) > 60_000) {
      lastStallMono = null;
      clear('event-loop-stall', 'gateway');
    }
  };

  const tick = (): void => {
    superviseTick();
    for (const d of drivers) d.tick();
    for (const d of drivers) {
      const window = rejectWindows.get(d.interfaceId);
      if (window && window.count() === 0) clear('frames-rejected', d.interfaceId);
    }
    // Messages dropped by the durable queue's bounds, or a failing disk: technical alarms.
    const queue = delivery?.conditions();
    if (queue?.evicting) raise('queue-evicting', 'gateway', 'low', queue.evicting);
    else clear('queue-evicting', 'gateway');
    if (queue?.diskFailing) raise('queue-disk-failing', 'gateway', 'medium', queue.diskFailing);
    else clear('queue-disk-failing', 'gateway');
    // Load shedding (publish/shedding.ts): on the delivery backlog and the event loop's load; alarmed while it lasts.
    const shedLevel = shedder.update({
      backlog: deps.outbox?.depth ?? 0,
      connected: deferredSink.connected !== false,
      loopUtilization: loopUtilization.sinceLast(),
    });
    if (shedLevel > 0) {
      raise('load-shedding', 'gateway', 'low', shedLevel === 1 ? 'overload: extras are not published' : 'overload: only alarms are published');
    } else {
      clear('load-shedding', 'gateway');
    }
    if (stateProblems.size > 0) raise('state-not-saved', 'gateway', 'medium', [...stateProblems.values()].join('; '));
    else clear('state-not-saved', 'gateway');
    if (keeper?.changed) void saveCommandState();
    if (identities?.changed) void saveIdentities();
    const expired = store.expire();
    const manualExpired = manual.expire();
    for (const p of manualExpired) void publisher.observationMsg(manual.withdrawnMsg(p));
    if (expired.length > 0 || manualExpired.length > 0) {
      for (const obs of expired) withdraw(obs, 'max-age-exceeded');
      publishScore();
    }
  };

  // --- start ------------------------------------------------------------------------
  const will = publisher.willMessage(statusMessage(false, 'last-will'));
  const connect =
    deps.connect ??
    ((w) => {
      if (!deps.outbox) throw new Error('startAgent: the durable queue (deps.outbox) must be opened by the caller');
      const link = new MqttLink(
        {
          url: config.mqtt.url,
          protocolVersion: config.mqtt.protocolVersion,
          clientId: `vigil-${config.gateway.gatewayId}-${hostname()}`.slice(0, 64),
          keepaliveSec: config.mqtt.keepaliveSec,
          reconnectPeriodMs: config.mqtt.reconnectPeriodMs,
          insecure: config.mqtt.insecure,
          caFile: config.mqtt.caFile,
          certFile: config.mqtt.certFile,
          keyFile: config.mqtt.keyFile,
          usernameFile: config.mqtt.usernameFile,
          passwordFile: config.mqtt.passwordFile,
          will: { topic: w.topic, payload: w.payload, qos: 1, retain: true },
        },
        logger,
      );
      link.on('connect', () => {
        logger.info('mqtt-connected', { url: config.mqtt.url });
        link.subscribe(topics.command(identity), 1).catch((err: Error) => logger.error('subscribe-failed', { error: err.message }));
        void publisher.status(statusMessage(true, 'connected'));
        for (const a of alarms.list()) void publisher.alarmReminder(a);
      });
      link.on('message', (topic, payload) => {
        if (topic === topics.command(identity)) handleCommand(payload);
      });
      link.on('offline', () => logger.warn('mqtt-offline', {}));
      link.on('error', (err) => logger.warn('mqtt-error', { error: err.message }));
      // Store and forward: every observation, score and alarm change is on disk before
      // it counts as sent, and leaves the queue when the broker acknowledged it.
      delivery = new Delivery(deps.outbox, link, clock, logger);
      return delivery;
    });
  sink = connect(will);
  // Manual inputs taken back from before a restart are published again, with their true age;
  // those not taken back are withdrawn, so that the station no longer shows them as current.
  if (restored && restored.outcome !== 'none') {
    const reason = restored.outcome === 'other-boot' ? 'gateway-rebooted' : restored.outcome === 'unreadable' ? 'state-unreadable' : 'max-age-exceeded';
    const dropped: ManualParameter[] = restored.outcome === 'unreadable' ? ['consciousness', 'onOxygen', 'spo2Scale'] : restored.notRestored;
    for (const p of dropped) void publisher.observationMsg(manual.withdrawnMsg(p, reason));
    for (const obs of restored.observations) void publisher.observationMsg(obs);
    if (restored.observations.length > 0) publishScore();
  }
  for (const d of drivers) d.start();

  const tickTimer = setInterval(tick, deps.tickMs ?? 250);
  loopMonitor.start();
  loopDelay.start();
  // The systemd watchdog is petted at half its period, and only while the gate passes;
  // otherwise the station is told first, then systemd restarts the agent.
  const supervisor = deps.supervisor;
  const watchdogTimer =
    supervisor?.watchdogIntervalMs != null
      ? setInterval(() => {
          const verdict = gate.check();
          if (verdict.ok) {
            supervisor.watchdog();
            clear('gateway-stalled', 'gateway');
          } else {
            count('watchdog-withheld');
            const which = verdict.failing.map((f) => `${f.stage} (${f.silentMs} ms)`).join(', ');
            logger.error('watchdog-withheld', { failing: verdict.failing });
            raise('gateway-stalled', 'gateway', 'high', `no progress: ${which}; the supervisor will restart the agent`);
          }
        }, supervisor.watchdogIntervalMs / 2)
      : null;
  const heartbeatTimer = setInterval(() => {
    void publisher.status(statusMessage(true, 'heartbeat'));
    loopDelay.reset(); // each heartbeat reports the event-loop delay of its own window
    for (const a of alarms.list()) void publisher.alarmReminder(a);
  }, config.mqtt.heartbeatIntervalMs);

  let stopping: Promise<void> | null = null;
  /** Waits for one stop step, at most STOP_STEP_MS; a failure or a timeout is logged, never thrown. */
  const bounded = async (step: string, work: Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), STOP_STEP_MS)));
    try {
      if ((await Promise.race([work, late])) === 'late') logger.warn('stop-step-timeout', { step, afterMs: STOP_STEP_MS });
    } catch (err) {
      logger.warn('stop-step-failed', { step, error: (err as Error).message });
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    publisher,
    tick,
    statusMessage,
    handleCommand,
    gate,
    stop(reason: string): Promise<void> {
      stopping ??= (async () => {
        supervisor?.stopping();
        if (watchdogTimer) clearInterval(watchdogTimer);
        loopMonitor.stop();
        loopDelay.stop();
        clearInterval(tickTimer);
        clearInterval(heartbeatTimer);
        // Each step is bounded: a port that does not close, or a broker that vanished
        // mid-stop (the offline status then waits for a PUBACK that never comes), must not
        // keep the agent from stopping. What was not delivered stays in the durable queue.
        await bounded('drivers', Promise.all(drivers.map((d) => d.stop())));
        await bounded('offline-status', publisher.status(statusMessage(false, reason)));
        await bounded('mqtt-close', sink?.end(false) ?? Promise.resolve());
      })();
      return stopping;
    },
  };
}
