/**
 * Reading the unit file as systemd does, for tests: its directives, and the system calls its
 * SystemCallFilter= lines allow, expanded from systemd's own group lists (`systemd-analyze
 * syscall-filter`) so that a test checks the installed systemd's definition, not a copy of it.
 */
import { execFileSync } from 'node:child_process';

/** Every `Key=value` of a unit file, in order, by key (a key may repeat). */
export function unitDirectives(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (kv) m.set(kv[1]!, [...(m.get(kv[1]!) ?? []), kv[2]!]);
  }
  return m;
}

/** The groups of `systemd-analyze syscall-filter`: each `@group` with its members (calls or groups). */
export function syscallGroups(): Map<string, string[]> {
  const out = execFileSync('systemd-analyze', ['syscall-filter', '--no-pager'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const groups = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of out.split('\n')) {
    if (/^@\S+$/.test(line.trim()) && !line.startsWith(' ')) groups.set(line.trim(), (current = []));
    else if (current && line.trim() !== '' && !line.trim().startsWith('#')) current.push(line.trim());
  }
  return groups;
}

function expand(names: readonly string[], groups: Map<string, string[]>, into = new Set<string>()): Set<string> {
  for (const n of names) {
    if (!n.startsWith('@')) into.add(n);
    else {
      const members = groups.get(n);
      if (members === undefined) throw new Error(`systemd knows no syscall group ${n}`);
      expand(members, groups, into);
    }
  }
  return into;
}

/**
 * The system calls the unit's SystemCallFilter= lines allow (systemd.exec(5)): the union of the
 * allow lists, less the union of the deny lists (`~...`), whatever their order.
 */
export function allowedSyscalls(directives: Map<string, string[]>, groups = syscallGroups()): Set<string> {
  const allow: string[] = [];
  const deny: string[] = [];
  for (const v of directives.get('SystemCallFilter') ?? []) {
    if (v.startsWith('~')) deny.push(...v.slice(1).trim().split(/\s+/));
    else allow.push(...v.trim().split(/\s+/));
  }
  const allowed = expand(allow, groups);
  for (const d of expand(deny, groups)) allowed.delete(d);
  return allowed;
}
