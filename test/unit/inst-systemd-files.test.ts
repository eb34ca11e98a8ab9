/**
 * The files the package installs for systemd and udev: the unit's packaged layout and hardening,
 * with its `systemd-analyze security` exposure measured and recorded; the sysusers.d and tmpfiles.d
 * entries, applied to a scratch root by systemd's own tools; the udev rules.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unitNodeFlags } from '../support/bench/agent-flags';
import { ROOT } from '../support/processes';
import { allowedSyscalls, unitDirectives } from '../support/systemd-unit';

const SYSTEMD = join(ROOT, 'agent', 'systemd');
const UNIT = join(SYSTEMD, 'vigil.service');
/**
 * `systemd-analyze security` exposure of the unit, measured 1.5 with systemd 252 (Debian 12). What
 * is left (docs/interfaces/systemd.md): the network, the serial devices, the dialout group, W+X memory
 * for V8. Never raised to let a change pass: a setting taken out needs its reason in the document and
 * in LEFT_OUT, and then this measured figure is measured again.
 */
const MAX_EXPOSURE = 1.5;
/** The settings systemd-analyze still counts against the unit, each left out for the reason docs/interfaces/systemd.md gives. */
const LEFT_OUT = [
  'DeviceAllow=',
  'IPAddressDeny=',
  'MemoryDenyWriteExecute=',
  'PrivateDevices=',
  'PrivateNetwork=',
  'PrivateUsers=',
  'ProcSubset=',
  'RestrictAddressFamilies=~AF_(INET|INET6)',
  'RestrictAddressFamilies=~AF_UNIX',
  'RootDirectory=/RootImage=',
  'SupplementaryGroups=',
];

const one = (d: Map<string, string[]>, k: string) => d.get(k)?.[0];

t.test('REQ-INST-033 the unit runs the packaged Node and agent from /usr/lib/vigil, in its state directory, with the packaged documentation', async (t) => {
  const text = readFileSync(UNIT, 'utf8');
  const d = unitDirectives(text);
  t.equal(one(d, 'ExecStart'), '/usr/lib/vigil/node/bin/node --max-semi-space-size=2 /usr/lib/vigil/app/dist/agent/src/cli.js run --config /etc/vigil/vigil.json');
  t.equal(one(d, 'WorkingDirectory'), '/var/lib/vigil', 'the state directory');
  t.equal(one(d, 'StateDirectory'), 'vigil');
  t.equal(one(d, 'Documentation'), 'file:///usr/share/doc/vigil/README.md');
  t.same(unitNodeFlags(text), ['--max-semi-space-size=2'], 'the benchmarks still read the Node flags of ExecStart');
  t.notMatch(text, /\/opt\/vigil|\/usr\/bin\/node/, 'no trace of the old layout');
});

t.test('REQ-INST-031 the unit is hardened: system-call filter, umask, invisible processes, no namespaces; W+X memory and devices stay possible', async (t) => {
  const d = unitDirectives(readFileSync(UNIT, 'utf8'));
  t.ok(d.get('SystemCallFilter')?.includes('@system-service'), 'SystemCallFilter=@system-service');
  t.ok(d.get('SystemCallFilter')?.includes('~@privileged @resources'), 'less the privileged and resource calls');
  t.equal(one(d, 'SystemCallErrorNumber'), 'EPERM', 'a denied call fails, it does not kill the agent');
  t.equal(one(d, 'UMask'), '0077');
  t.equal(one(d, 'ProtectProc'), 'invisible');
  t.equal(one(d, 'RestrictNamespaces'), 'yes');
  t.equal(one(d, 'ProtectKernelTunables'), 'yes');
  t.equal(one(d, 'SyslogIdentifier'), 'vigil');
  t.equal(one(d, 'SyslogLevel'), 'err', 'unprefixed lines (fatal messages) are errors');
  t.notOk(d.has('MemoryDenyWriteExecute'), 'not set: V8\'s JIT needs W+X memory');
  t.notOk(d.has('PrivateDevices'), 'not set: it hides the serial devices');
  t.notOk(d.has('ProcSubset'), 'not set: the boot id is in /proc/sys');
  const allowed = allowedSyscalls(d);
  for (const c of ['read', 'openat', 'epoll_pwait', 'fdatasync', 'ioctl', 'pkey_alloc']) t.ok(allowed.has(c), `${c} allowed`);
  for (const c of ['mount', 'setuid', 'chown', 'setrlimit', 'init_module', 'reboot', 'ptrace']) t.notOk(allowed.has(c), `${c} denied`);
});

t.test('REQ-INST-031 systemd-analyze security --offline rates the unit at most 1.5, with only the documented settings left out; the figure is written to build/systemd', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-unit-'));
  const copy = join(dir, 'vigil.service');
  writeFileSync(copy, readFileSync(UNIT));
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', copy], { encoding: 'utf8' });
  t.equal(r.status, 0, `systemd-analyze security ran: ${r.stderr}`);
  const exposure = Number(/Overall exposure level for vigil\.service: (\d+\.\d+)/.exec(r.stdout)?.[1]);
  t.ok(Number.isFinite(exposure), 'the overall exposure is printed');
  t.ok(exposure <= MAX_EXPOSURE, `exposure ${exposure} <= ${MAX_EXPOSURE}`);
  const failing = r.stdout.split('\n').filter((l) => l.startsWith('✗')).map((l) => l.slice(1).trim().split(/\s+/)[0]!).sort();
  t.same(failing, LEFT_OUT, 'exactly the settings docs/interfaces/systemd.md explains are left out');
  const version = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  const out = join(ROOT, 'build', 'systemd');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'security.json'), `${JSON.stringify({ unit: 'agent/systemd/vigil.service', exposure, maxExposure: MAX_EXPOSURE, systemd: version, leftOut: failing }, null, 2)}\n`);
});

t.test('REQ-INST-034 sysusers.d makes the vigil system user, at home in the state directory, in dialout; tmpfiles.d makes the state directory 0700 vigil:vigil', async (t) => {
  const sysusers = readFileSync(join(SYSTEMD, 'vigil.sysusers'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.same(sysusers, ['u vigil - "Vigil gateway agent" /var/lib/vigil', 'm vigil dialout']);
  const tmpfiles = readFileSync(join(SYSTEMD, 'vigil.tmpfiles'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.same(tmpfiles.map((l) => l.split(/\s+/)), [['d', '/var/lib/vigil', '0700', 'vigil', 'vigil', '-']]);
  const d = unitDirectives(readFileSync(UNIT, 'utf8'));
  t.equal(one(d, 'User'), 'vigil', 'the unit runs as that user');
  t.equal(one(d, 'StateDirectoryMode'), '0700', 'with the same mode as tmpfiles.d');
});

t.test('REQ-INST-034 systemd-sysusers and systemd-tmpfiles apply the files to a scratch root: the vigil user, its dialout membership and its state directory', async (t) => {
  for (const tool of ['systemd-sysusers', 'systemd-tmpfiles']) t.equal(spawnSync('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is installed (Debian systemd)`);
  const root = mkdtempSync(join(tmpdir(), 'vigil-root-'));
  mkdirSync(join(root, 'etc'));
  // A Debian base system's accounts: root, and the dialout group (base-passwd, gid 20).
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\n');
  const su = spawnSync('systemd-sysusers', [`--root=${root}`, join(SYSTEMD, 'vigil.sysusers')], { encoding: 'utf8' });
  t.equal(su.status, 0, `systemd-sysusers: ${su.stderr}`);
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8').split('\n').find((l) => l.startsWith('vigil:'))?.split(':');
  t.ok(passwd, 'vigil is in /etc/passwd');
  const [, , uid, gid, gecos, home, shell] = passwd ?? [];
  t.ok(Number(uid) > 0 && Number(uid) < 1000, `a system uid (${uid})`);
  t.equal(gecos, 'Vigil gateway agent');
  t.equal(home, '/var/lib/vigil');
  t.match(shell, /nologin$/, 'no login shell');
  const group = readFileSync(join(root, 'etc', 'group'), 'utf8').split('\n');
  t.equal(group.find((l) => l.startsWith('vigil:'))?.split(':')[2], gid, 'its own group vigil');
  t.same(group.find((l) => l.startsWith('dialout:'))?.split(':')[3]?.split(','), ['vigil'], 'a member of dialout (serial devices)');
  const tf = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', join(SYSTEMD, 'vigil.tmpfiles')], { encoding: 'utf8' });
  t.equal(tf.status, 0, `systemd-tmpfiles: ${tf.stderr}`);
  const st = statSync(join(root, 'var', 'lib', 'vigil'));
  t.ok(st.isDirectory(), 'the state directory exists');
  t.equal(st.mode & 0o777, 0o700, 'mode 0700');
  if (process.getuid?.() === 0) {
    t.equal(String(st.uid), uid, 'owned by vigil');
    t.equal(String(st.gid), gid, 'group vigil');
  } else {
    t.comment('not root: systemd-tmpfiles cannot give the directory away; owner checked by the entry above');
  }
});

t.test('REQ-INST-035 every udev rule names the serial device stably, gives it to dialout and tells ModemManager to leave it alone', async (t) => {
  const rules = readFileSync(join(SYSTEMD, '99-vigil-serial.rules'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.ok(rules.length >= 3, `${rules.length} rules`);
  for (const r of rules) {
    t.match(r, /^SUBSYSTEM=="tty", /, 'a tty rule');
    t.match(r, /SYMLINK\+="vigil-[a-z0-9-]+"/, 'a stable name');
    t.match(r, /GROUP="dialout", MODE="0660"/, 'the dialout group, read-write');
    t.match(r, /(^|, )ENV\{ID_MM_DEVICE_IGNORE\}="1"(,|$)/, 'ModemManager ignores the device');
  }
});
