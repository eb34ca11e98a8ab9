/**
 * `vigil score news2` on in-memory streams, with the real native addon.
 */
import t from 'tap';
import { PassThrough } from 'node:stream';
import { LINE_RULES, LineSplitter, MAX_LINE_BYTES, runScoreNews2 } from '../../agent/src/commands/score-news2';

interface Run {
  code: number;
  /** Raw output text. */
  text: string;
  /** Output lines, parsed. */
  lines: unknown[];
}

/** Runs the command on `chunks` written one by one, and collects what it writes. */
async function run(chunks: readonly (string | Buffer)[]): Promise<Run> {
  const input = new PassThrough();
  const output = new PassThrough();
  const collected: Buffer[] = [];
  output.on('data', (chunk: Buffer) => collected.push(chunk));
  const done = runScoreNews2(input, output);
  for (const chunk of chunks) input.write(chunk);
  input.end();
  const code = await done;
  const text = Buffer.concat(collected).toString('utf8');
  const lines = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
  return { code, text, lines };
}

const NORMAL_LINE = JSON.stringify({
  respRatePerMin: 16,
  spo2Percent: 97,
  onOxygen: false,
  systolicMmHg: 120,
  pulseBpm: 70,
  consciousness: 'A',
  tempCelsius: 37,
});

const NORMAL_SCORE = {
  total: 0,
  points: { respRatePerMin: 0, spo2Percent: 0, onOxygen: 0, systolicMmHg: 0, pulseBpm: 0, consciousness: 0, tempCelsius: 0 },
  riskLevel: 'low',
  complete: true,
  missing: [],
};

t.test('REQ-NEWS2-008 one result line per input line; errors are lines, reading goes on', async (t) => {
  const input = [
    NORMAL_LINE,
    '',
    '{"respRatePerMin": 16, "spo2Percent":',
    '{"pulseBpm": -1}',
    '   ',
    '{"pulseBpm": "fast"}',
    '{"pulseBpm": 70, "heartRate": 70}',
    '[1, 2]',
    '{"spo2Scale": 3}',
    '{"consciousness": "X"}',
    '{"onOxygen": "yes"}',
    '{"tempCelsius": 1e400}',
    '{"spo2Percent": 91, "pulseBpm": 95}',
    '',
  ].join('\n');
  const result = await run([input]);
  t.equal(result.code, 0, 'exit code 0 when the input was read to the end');
  t.same(result.lines, [
    NORMAL_SCORE,
    { error: { field: 'line', rule: 'must be valid JSON' } },
    { error: { field: 'pulseBpm', rule: 'must not be negative' } },
    { error: { field: 'pulseBpm', rule: 'must be a finite number' } },
    { error: { field: 'heartRate', rule: 'is not a known field' } },
    { error: { field: 'line', rule: 'must be a JSON object' } },
    { error: { field: 'spo2Scale', rule: 'must be one of 1, 2' } },
    { error: { field: 'consciousness', rule: 'must be one of A, C, V, P, U' } },
    { error: { field: 'onOxygen', rule: 'must be a boolean' } },
    { error: { field: 'tempCelsius', rule: 'must be a finite number' } },
    {
      total: 4,
      points: { spo2Percent: 3, pulseBpm: 1 },
      riskLevel: 'low-medium',
      complete: false,
      missing: ['respRatePerMin', 'onOxygen', 'systolicMmHg', 'consciousness', 'tempCelsius'],
    },
  ]);
  t.notMatch(result.text, 'fast', 'a rejected value is never echoed');
});

t.test('REQ-NEWS2-008 output keys come in a fixed order', async (t) => {
  const result = await run([`${NORMAL_LINE}\n`]);
  t.match(result.text, /^\{"total":0,"points":\{.*\},"riskLevel":"low","complete":true,"missing":\[\]\}\n$/);
});

t.test('REQ-NEWS2-008 lines split across chunks, CRLF and a last line without newline', async (t) => {
  const half = Math.floor(NORMAL_LINE.length / 2);
  const result = await run([NORMAL_LINE.slice(0, half), `${NORMAL_LINE.slice(half)}\r\n{"pulseBpm":`, '131}\r\n', '{"pulseBpm": 40}']);
  t.equal(result.code, 0);
  t.same(
    result.lines.map((l) => (l as { total: number }).total),
    [0, 3, 3],
  );
});

t.test('REQ-NEWS2-008 multi-byte UTF-8 split across chunks is reassembled', async (t) => {
  const line = Buffer.from('{"consciousness": "\u00c9"}\n', 'utf8');
  const cut = line.indexOf(0xc3) + 1; // inside the two-byte character
  const result = await run([line.subarray(0, cut), line.subarray(cut)]);
  t.same(result.lines, [{ error: { field: 'consciousness', rule: 'must be one of A, C, V, P, U' } }]);
});

t.test('REQ-NEWS2-008 empty input and blank lines only give no output', async (t) => {
  t.same(await run([]), { code: 0, text: '', lines: [] });
  t.same(await run(['\n\n  \n\r\n']), { code: 0, text: '', lines: [] });
});

t.test('REQ-NEWS2-008 a line over the limit is reported once and the buffer stays bounded', async (t) => {
  const long = `{"pulseBpm": 70, "x": "${'a'.repeat(MAX_LINE_BYTES)}"}`;
  const result = await run([long.slice(0, 1000), long.slice(1000), '\n', `${NORMAL_LINE}\n`, long]);
  t.same(result.lines, [{ error: { field: 'line', rule: LINE_RULES.tooLong } }, NORMAL_SCORE, { error: { field: 'line', rule: LINE_RULES.tooLong } }]);

  const splitter = new LineSplitter(8);
  t.same(splitter.push(Buffer.from('12345678\n123456789\nab')), [
    { kind: 'line', text: '12345678' },
    { kind: 'too-long' },
  ]);
  t.same(splitter.push(Buffer.from('cdefghijkl')), [], 'an overlong partial line is being discarded');
  t.same(splitter.push(Buffer.from('mn\nok\n')), [{ kind: 'too-long' }, { kind: 'line', text: 'ok' }]);
  t.same(splitter.end(), [], 'nothing pending');
});

t.test('REQ-NEWS2-008 a slow reader is waited for (backpressure), nothing is lost', async (t) => {
  const count = 2000;
  const input = new PassThrough();
  const output = new PassThrough({ highWaterMark: 64 });
  const done = runScoreNews2(input, output);
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  input.end(`${Array.from({ length: count }, () => NORMAL_LINE).join('\n')}\n`);
  // Start reading only later: the command must wait for 'drain' rather than buffer without bound.
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.notOk(finished, 'the command waits for the reader');
  const collected: Buffer[] = [];
  output.on('data', (chunk: Buffer) => collected.push(chunk));
  t.equal(await done, 0);
  const lines = Buffer.concat(collected).toString('utf8').trim().split('\n');
  t.equal(lines.length, count);
  t.ok(lines.every((line) => line === lines[0]), 'every line scored alike');
});
