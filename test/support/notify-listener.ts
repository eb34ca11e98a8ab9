/**
 * A stand-in for systemd's notification socket: a Unix datagram socket the test listens on
 * (Node has none, so a few lines of Python hold it) that reports every datagram it
 * receives, so the agent's sd_notify protocol is checked for real.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const LISTENER = `
import socket, sys, json
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print(json.dumps({"listening": path}), flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps({"datagram": data.decode("utf-8", "replace")}), flush=True)
`;

export interface NotifyListener {
  socketPath: string;
  datagrams: string[];
  stop(): void;
}

export function startNotifyListener(): Promise<NotifyListener> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-notify-'));
  const socketPath = join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const datagrams: string[] = [];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`notify listener exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { listening?: string; datagram?: string };
      if (msg.listening) resolve({ socketPath, datagrams, stop: () => child.kill('SIGKILL') });
      if (msg.datagram !== undefined) datagrams.push(msg.datagram);
    });
  });
}
