/**
 * Command-line splitting shared by every hw-sim device command: `--name value`,
 * `--name=value`, flags, and positionals, with the same errors everywhere. Each device
 * command then checks the values it knows.
 */
export type SplitResult =
  | { ok: true; values: Map<string, string>; flags: Set<string>; positionals: string[] }
  | { ok: false; help: true }
  | { ok: false; help: false; message: string };

export function splitOptions(argv: readonly string[], flagOptions: ReadonlySet<string>, valueOptions: ReadonlySet<string>): SplitResult {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  const fail = (message: string): SplitResult => ({ ok: false, help: false, message });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') return { ok: false, help: true };
    if (!arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (flagOptions.has(name)) {
      if (eq >= 0) return fail(`${name} takes no value`);
      flags.add(name);
    } else if (valueOptions.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) return fail(`${name} needs a value`);
      if (values.has(name)) return fail(`${name} given twice`);
      values.set(name, value);
    } else {
      return fail(`unknown option ${name}`);
    }
  }
  return { ok: true, values, flags, positionals };
}
