/**
 * The TCP/TLS boundary for HL7 monitors (agent/src/io/mllp-tcp.ts) on the loopback interface,
 * without the driver: the listener's set-up errors, its bounds (connections, frame size), the
 * events of each connection, and replies on a connection that is gone.
 */
import t from 'tap';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../agent/src/clock';
import { frameMllp } from '../../agent/src/framing/mllp';
import type { MllpConnection, MllpTcpOptions } from '../../agent/src/io/mllp-tcp';
import { MllpTcpError, MllpTcpServer, remoteName } from '../../agent/src/io/mllp-tcp';
import { createPki } from '../support/pki';

const BASE: MllpTcpOptions = { host: '127.0.0.1', port: 0, maxFrameBytes: 64, maxConnections: 2, clock: systemClock };

async function until<T>(probe: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s)).once('error', reject);
  });
}

/** Every event of the server, in order, as text. */
function record(server: MllpTcpServer): string[] {
  const events: string[] = [];
  server.on('frame', (bytes, _stamp, c) => events.push(`frame ${c.id} ${Buffer.from(bytes).toString('latin1')}`));
  server.on('overflow', (c) => events.push(`overflow ${c.id}`));
  server.on('truncated', (c) => events.push(`truncated ${c.id}`));
  server.on('connected', (c, open) => events.push(`connected ${c.id} ${open}`));
  server.on('disconnected', (c, open) => events.push(`disconnected ${c.id} ${open}`));
  server.on('refused', () => events.push('refused'));
  server.on('failed', (detail) => events.push(`failed ${detail}`));
  return events;
}

t.test('REQ-HL7-001 REQ-HL7-033 a plain listener: frames per connection, an over-long block and a partial block reported, beyond the connection bound refused', async (t) => {
  const server = new MllpTcpServer(BASE);
  const events = record(server);
  const { port } = await server.listen();
  t.teardown(() => server.close());
  t.ok(port > 0, 'port 0 picks a free port, reported');
  const a = await connect(port);
  const b = await connect(port);
  await until(() => server.connectionCount === 2, 'two connections');
  const c = await connect(port);
  await until(() => events.includes('refused'), 'the third connection refused');
  await until(() => c.destroyed || c.readableEnded, 'the refused socket closed');
  a.write(frameMllp('MSH|a1'));
  await until(() => events.includes('frame 1 \u000bMSH|a1'), 'the frame of the first monitor');
  b.write(Buffer.concat([frameMllp('X'.repeat(100)), frameMllp('MSH|b1')]));
  await until(() => events.includes('frame 2 \u000bMSH|b1'), 'the frame after the over-long one');
  t.ok(events.indexOf('overflow 2') >= 0 && events.indexOf('overflow 2') < events.indexOf('frame 2 \u000bMSH|b1'), 'the over-long block reported first, on its connection');
  b.end(Buffer.from([0x0b, 0x41]));
  await until(() => events.includes('disconnected 2 1'), 'the second monitor gone');
  t.ok(events.indexOf('truncated 2') >= 0 && events.indexOf('truncated 2') < events.indexOf('disconnected 2 1'), 'a partial block at the close is truncated');
  a.destroy();
  await until(() => events.includes('disconnected 1 0'), 'the first monitor gone');
  t.equal(events.filter((e) => e.startsWith('frame')).length, 2, 'only the two whole blocks are frames');
});

t.test('REQ-HL7-014 a reply on a connection that is gone is refused, never written', async (t) => {
  const server = new MllpTcpServer(BASE);
  const seen: { connection: MllpConnection | null } = { connection: null };
  server.on('connected', (c) => (seen.connection = c));
  let gone = false;
  server.on('disconnected', () => (gone = true));
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const socket = await connect(port);
  const live = await until(() => seen.connection ?? undefined, 'the connection');
  t.match(live.remote, /^127\.0\.0\.1:\d+$/);
  const got: Buffer[] = [];
  socket.on('data', (d: Buffer) => got.push(d));
  await live.write(frameMllp('MSA|AA|1'));
  await until(() => got.length > 0, 'the reply at the monitor');
  socket.destroy();
  await until(() => gone, 'the close');
  await t.rejects(live.write(frameMllp('MSA|AA|2')), /connection closed/);
});

t.test('REQ-HL7-014 HAZ-008 a reply the monitor cuts off while it is being written (connection reset) is reported failed, never taken as sent', async (t) => {
  const server = new MllpTcpServer(BASE);
  const seen: { connection: MllpConnection | null } = { connection: null };
  server.on('connected', (c) => (seen.connection = c));
  let gone = false;
  server.on('disconnected', () => (gone = true));
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const socket = await connect(port);
  // The monitor reads nothing: a reply larger than both kernel socket buffers of the loopback
  // (a few MiB at most on Linux, net.ipv4.tcp_wmem / tcp_rmem) cannot be written whole.
  socket.pause();
  const live = await until(() => seen.connection ?? undefined, 'the connection');
  let settled = false;
  const write = live.write(Buffer.alloc(64 * 1024 * 1024, 0x41));
  void write.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setImmediate(r));
  t.equal(settled, false, 'the reply is still being written when the monitor goes');
  t.equal(gone, false, 'the connection was open when the reply was started');
  // Closing with unread data resets the connection (RFC 2525 2.17, as Linux does).
  socket.destroy();
  const err = await write.then(
    () => null,
    (e: NodeJS.ErrnoException) => e,
  );
  t.not(err, null, 'the write is refused (the driver then counts ack-send-failed and logs it)');
  t.notMatch(err?.message ?? '', /^connection closed$/, 'refused by the socket mid-write, not by the closed-connection guard');
  await until(() => gone, 'the close');
});

t.test('REQ-HL7-032 the TLS listener without a CA file: any client may connect, the frames are read', async (t) => {
  const pki = createPki([]);
  t.teardown(() => pki.remove());
  const server = new MllpTcpServer({ ...BASE, tls: { certFile: pki.broker.certFile, keyFile: pki.broker.keyFile } });
  const events = record(server);
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(pki.caFile), servername: 'localhost' });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write(frameMllp('MSH|tls'));
  await until(() => events.includes('frame 1 \u000bMSH|tls'), 'the frame over TLS');
  socket.destroy();
  await until(() => events.includes('disconnected 1 0'), 'the close');
});

t.test('REQ-HL7-032 the listener cannot start: unreadable TLS files and an address in use are typed errors', async (t) => {
  const files = new MllpTcpServer({ ...BASE, tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem', caFile: '/nonexistent/ca.pem' } });
  await t.rejects(files.listen(), { code: 'TCP_TLS_FILES', message: /ENOENT/ });
  const pki = createPki([]);
  t.teardown(() => pki.remove());
  const noCa = new MllpTcpServer({ ...BASE, tls: { certFile: pki.broker.certFile, keyFile: pki.broker.keyFile, caFile: join(pki.dir, 'missing-ca.pem') } });
  await t.rejects(noCa.listen(), { code: 'TCP_TLS_FILES' }, 'a CA file that cannot be read stops the start too');
  const withCa = new MllpTcpServer({ ...BASE, tls: { certFile: pki.broker.certFile, keyFile: pki.broker.keyFile, caFile: pki.caFile } });
  await t.resolves(withCa.listen(), 'readable files: listening (clients are checked against the CA: hl7-pcd01-driver.test.ts)');
  await withCa.close();
  const first = new MllpTcpServer(BASE);
  const { port } = await first.listen();
  t.teardown(() => first.close());
  const second = new MllpTcpServer({ ...BASE, port });
  const err = await second.listen().catch((e: unknown) => e);
  t.ok(err instanceof MllpTcpError, 'an MllpTcpError');
  t.match(err, { code: 'TCP_LISTEN', message: new RegExp(`cannot listen on 127.0.0.1:${port}`) });
  await t.resolves(new MllpTcpServer(BASE).close(), 'closing a listener that never listened is harmless');
});

t.test('HAZ-012 a listener that fails after it was listening reports it and closes its connections', async (t) => {
  const server = new MllpTcpServer(BASE);
  const events = record(server);
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const socket = await connect(port);
  await until(() => server.connectionCount === 1, 'the connection');
  // What Node does when accept() fails (EMFILE, ENFILE): an 'error' on the listening server.
  (server as unknown as { server: { emit(e: string, err: Error): void } }).server.emit('error', new Error('accept EMFILE'));
  t.ok(events.includes('failed accept EMFILE'), 'reported as failed, with the cause');
  await until(() => socket.destroyed || socket.readableEnded, 'the connection closed by the gateway');
  t.equal(server.connectionCount, 0);
});

t.test('REQ-HL7-033 the remote name of a connection for logs, "?" for what a gone socket no longer knows', async (t) => {
  t.equal(remoteName({ remoteAddress: '10.0.0.7', remotePort: 2575 }), '10.0.0.7:2575');
  t.equal(remoteName({}), '?:?');
});
