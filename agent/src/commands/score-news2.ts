/**
 * `vigil score news2`: scores NEWS2 observation sets given as JSON Lines.
 *
 * One JSON object per input line, with the optional fields of `News2Input`
 * (respRatePerMin, spo2Percent, spo2Scale, onOxygen, systolicMmHg, pulseBpm, consciousness,
 * tempCelsius). One JSON line out per non-blank input line, in order:
 *   {"total":..,"points":{..},"riskLevel":"..","complete":..,"missing":[..]}
 * or {"error":{"field":"<field name or line>","rule":"<stable rule>"}}.
 * Blank lines are skipped; an error never stops the reading. Exit code 0 once the input has
 * been read to the end. Policy: docs/news2.md.
 */
import { z } from 'zod';
import type { News2Input, News2InputError, News2Outcome, NativeApi } from '../native/addon';
import { loadNative, NativeError } from '../native/addon';

/** Longest accepted line, in bytes: bounds the buffer (a valid line is a few hundred bytes). */
export const MAX_LINE_BYTES = 64 * 1024;

/** Field reported for a problem with the line as a whole. */
const LINE_FIELD = 'line';

/** Stable rules of the line-shape checks (the value rules come from the native core). */
export const LINE_RULES = {
  json: 'must be valid JSON',
  object: 'must be a JSON object',
  tooLong: `must be at most ${MAX_LINE_BYTES} bytes`,
  unknownField: 'is not a known field',
  number: 'must be a finite number',
  boolean: 'must be a boolean',
} as const;

/** Shape of one input line, keys in the order of RCP NEWS2 Chart 1 (so the first issue is in chart order). */
const news2LineSchema = z.strictObject({
  spo2Scale: z.literal([1, 2]).optional(),
  respRatePerMin: z.number().optional(),
  spo2Percent: z.number().optional(),
  onOxygen: z.boolean().optional(),
  systolicMmHg: z.number().optional(),
  pulseBpm: z.number().optional(),
  consciousness: z.enum(['A', 'C', 'V', 'P', 'U']).optional(),
  tempCelsius: z.number().optional(),
});

// Compile-time check that the schema accepts every field of News2Input, and nothing else.
type LineFields = keyof z.infer<typeof news2LineSchema>;
const schemaMatchesInput: [Exclude<keyof News2Input, LineFields> | Exclude<LineFields, keyof News2Input>] extends [never]
  ? true
  : never = true;
void schemaMatchesInput;

/** One output line before serialisation: an input for the addon, or an error found in the line itself. */
export type Slot = { kind: 'input'; input: News2Input } | { kind: 'error'; error: News2InputError };

/** Reads JSON Lines from `input`, writes one result line per observation set to `output`. */
export async function runScoreNews2(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<number> {
  // Fail fast (NativeError NATIVE_LOAD) before reading anything.
  const native = loadNative();
  const splitter = new LineSplitter(MAX_LINE_BYTES);
  for await (const chunk of input) {
    await writeResults(native, splitter.push(toBuffer(chunk)), output);
  }
  await writeResults(native, splitter.end(), output);
  return 0;
}

/** Scores the lines of one input chunk with a single native call and writes the results in order. */
async function writeResults(native: NativeApi, lines: readonly SplitLine[], output: NodeJS.WritableStream): Promise<void> {
  const slots: Slot[] = [];
  for (const line of lines) {
    if (line.kind === 'too-long') {
      slots.push({ kind: 'error', error: { field: LINE_FIELD, rule: LINE_RULES.tooLong } });
    } else if (line.text.trim() !== '') {
      slots.push(parseLine(line.text));
    }
  }
  if (slots.length === 0) return;
  const inputs = slots.flatMap((s) => (s.kind === 'input' ? [s.input] : []));
  const outcomes = inputs.length > 0 ? native.scoreNews2Batch(inputs) : [];
  let next = 0;
  const text = slots
    .map((slot) => {
      if (slot.kind === 'error') return JSON.stringify({ error: slot.error });
      const outcome = outcomes[next++];
      if (outcome === undefined) {
        throw new NativeError(
          'NATIVE_CALL',
          `native scoreNews2Batch returned ${outcomes.length} outcomes for ${inputs.length} inputs`,
        );
      }
      return formatOutcome(outcome);
    })
    .join('\n');
  await write(output, `${text}\n`);
}

/** Parses and shape-checks one non-blank line. Only the first problem is reported. */
export function parseLine(text: string): Slot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'error', error: { field: LINE_FIELD, rule: LINE_RULES.json } };
  }
  const parsed = news2LineSchema.safeParse(value);
  if (parsed.success) return { kind: 'input', input: parsed.data };
  const issue = parsed.error.issues[0];
  return { kind: 'error', error: issue === undefined ? { field: LINE_FIELD, rule: LINE_RULES.object } : issueToError(issue) };
}

function issueToError(issue: z.core.$ZodIssue): News2InputError {
  const field = typeof issue.path[0] === 'string' ? issue.path[0] : LINE_FIELD;
  switch (issue.code) {
    case 'unrecognized_keys':
      return { field: issue.keys[0] ?? LINE_FIELD, rule: LINE_RULES.unknownField };
    case 'invalid_value':
      // Same wording as the native binding's rules for spo2Scale and consciousness.
      return { field, rule: `must be one of ${issue.values.map(String).join(', ')}` };
    case 'invalid_type':
      if (field === LINE_FIELD) return { field, rule: LINE_RULES.object };
      if (issue.expected === 'boolean') return { field, rule: LINE_RULES.boolean };
      return { field, rule: LINE_RULES.number };
    default:
      return { field, rule: LINE_RULES.object };
  }
}

/** Serialises an outcome with a fixed key order. */
function formatOutcome(outcome: News2Outcome): string {
  if (!outcome.ok) return JSON.stringify({ error: { field: outcome.error.field, rule: outcome.error.rule } });
  const { total, points, riskLevel, complete, missing } = outcome.score;
  return JSON.stringify({ total, points, riskLevel, complete, missing });
}

/** A complete line (without its `\n` or `\r\n`), or the mark of a line longer than the limit. */
export type SplitLine = { kind: 'line'; text: string } | { kind: 'too-long' };

/**
 * Splits a byte stream on `\n` with a bounded buffer: a line longer than `maxLineBytes` is
 * discarded up to its newline and reported once as `too-long`. Splitting bytes (not text) is
 * safe for UTF-8, where 0x0A never occurs inside a multi-byte character.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(private readonly maxLineBytes: number) {}

  /** Feeds a chunk; returns the lines it completes. */
  push(chunk: Buffer): SplitLine[] {
    const lines: SplitLine[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      lines.push(this.finish(chunk.subarray(start, nl)));
      start = nl + 1;
    }
    this.append(chunk.subarray(start));
    return lines;
  }

  /** Ends the input; returns the last line if it had no newline. */
  end(): SplitLine[] {
    if (!this.discarding && this.size === 0) return [];
    return [this.finish(Buffer.alloc(0))];
  }

  private append(piece: Buffer): void {
    if (this.discarding || piece.length === 0) return;
    if (this.size + piece.length > this.maxLineBytes) {
      this.discarding = true;
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(piece);
    this.size += piece.length;
  }

  private finish(tail: Buffer): SplitLine {
    this.append(tail);
    const line: SplitLine = this.discarding
      ? { kind: 'too-long' }
      : { kind: 'line', text: Buffer.concat(this.parts, this.size).toString('utf8').replace(/\r$/, '') };
    this.parts = [];
    this.size = 0;
    this.discarding = false;
    return line;
  }
}

function toBuffer(chunk: string | Buffer): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

/** Writes `text`, waiting for `drain` when the stream asks for it (bounded memory on a slow reader). */
function write(output: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      output.removeListener('error', onError);
      output.removeListener('drain', done);
      resolve();
    };
    const onError = (err: unknown): void => {
      output.removeListener('drain', done);
      reject(err);
    };
    output.once('error', onError);
    if (output.write(text)) done();
    else output.once('drain', done);
  });
}
