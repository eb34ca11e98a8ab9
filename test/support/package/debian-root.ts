/**
 * A fresh Debian root for the package tests: `debootstrap --variant=minbase` of the release the
 * gateway runs (Debian 12 bookworm, amd64) from the Debian registry, made once into build/package/
 * and copied for each test. The package is then installed into the copy with the distribution's
 * own tools inside a chroot (`apt-get install ./vigil_<version>_amd64.deb`: dpkg runs the
 * maintainer scripts, apt brings only the declared dependencies), as on a gateway.
 *
 * Needs root (debootstrap, chroot, mounts). Mounts are only ever /proc and single device files, and
 * a root is removed only after every mount under it is gone (a recursive delete through a bind
 * mount of /dev would delete the machine's own device nodes).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../processes';

export const DEBIAN_SUITE = 'bookworm';
/** The Debian registry (override with VIGIL_DEBIAN_MIRROR). */
export const DEBIAN_MIRROR = process.env.VIGIL_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const BASE = join(ROOT, 'build', 'package', `debian-${DEBIAN_SUITE}-amd64`);

function sh(cmd: string, args: string[], timeoutMs = 600_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}

/** The minbase root, made once (about a minute) and kept in build/package/. */
export function debianBase(): string {
  const done = join(BASE, '.vigil-complete');
  if (existsSync(done)) return BASE;
  rmSync(BASE, { recursive: true, force: true });
  sh('debootstrap', ['--variant=minbase', DEBIAN_SUITE, BASE, DEBIAN_MIRROR]);
  writeFileSync(done, `${DEBIAN_SUITE} ${DEBIAN_MIRROR}\n`);
  return BASE;
}

/**
 * A command inside the root with the root's own clean environment: nothing of this process's
 * (the test runner adds NODE_OPTIONS that name its own files to every child process).
 */
export function chrootCommand(args: string[]): string[] {
  return ['/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive', ...args];
}

export interface DebianRoot {
  root: string;
  /** Runs a command inside the root (chroot), returning its exit status and output. */
  run(args: string[], opts?: { timeoutMs?: number }): { status: number | null; stdout: string; stderr: string };
  /** Bind-mounts one device file of this machine at `pathInRoot` (e.g. a pty as /dev/vigil-spo2). */
  bindDevice(hostPath: string, pathInRoot: string): void;
  /** Unmounts everything under the root, then deletes it. */
  remove(): void;
}

function mountsUnder(root: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === root || m.startsWith(`${root}/`));
}

/** A copy of the base with /proc mounted. */
export function freshDebianRoot(): DebianRoot {
  const base = debianBase();
  const root = mkdtempSync(join(tmpdir(), 'vigil-debian-root-'));
  sh('cp', ['-a', `${base}/.`, root]);
  rmSync(join(root, '.vigil-complete'), { force: true });
  sh('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
  return {
    root,
    run(args, opts = {}) {
      try {
        const stdout = execFileSync('chroot', [root, ...chrootCommand(args)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 300_000 });
        return { status: 0, stdout, stderr: '' };
      } catch (err) {
        const e = err as { status: number | null; stdout?: string; stderr?: string };
        return { status: e.status, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
    bindDevice(hostPath, pathInRoot) {
      const target = join(root, pathInRoot);
      writeFileSync(target, '');
      sh('mount', ['--bind', hostPath, target]);
    },
    remove() {
      for (const m of mountsUnder(root).sort().reverse()) {
        try {
          sh('umount', [m]);
        } catch {
          sh('umount', ['-l', m]);
        }
      }
      const left = mountsUnder(root);
      if (left.length > 0) throw new Error(`still mounted under ${root}: ${left.join(', ')}: not deleting it`);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
