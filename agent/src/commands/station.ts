/** `vigil station --url mqtt://...`: the console station view. */
import { MqttLink } from '../io/mqtt';
import type { Logger } from '../log';
import { topics } from '../publish/topics';
import { renderStation, StationModel } from '../station/station';

export interface StationOptions {
  url: string;
  json: boolean;
  refreshMs: number;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export async function runStation(opts: StationOptions, logger: Logger, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const model = new StationModel();
  const link = new MqttLink(
    {
      url: opts.url,
      protocolVersion: 5,
      clientId: `vigil-station-${process.pid}`,
      keepaliveSec: 10,
      reconnectPeriodMs: 1000,
      insecure: !/^(mqtts|ssl):/.test(opts.url),
      caFile: opts.caFile,
      certFile: opts.certFile,
      keyFile: opts.keyFile,
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
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      clearInterval(timer);
      void link.end(true).then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
