import t from 'tap';
import { BoundedDelimiterParser } from '../../agent/src/io/serial';

function run(chunks: Buffer[], max: number): { frames: string[]; overflows: number; truncated: number } {
  const frames: string[] = [];
  let overflows = 0;
  let truncated = 0;
  const p = new BoundedDelimiterParser(Buffer.from('\r\n'), max, () => (overflows += 1), () => (truncated += 1));
  p.on('data', (b: Buffer) => frames.push(b.toString('latin1')));
  for (const c of chunks) p.write(c);
  p.end();
  return { frames, overflows, truncated };
}

t.test('REQ-SERIAL-001 frames split on CR LF across any chunking', async (t) => {
  const text = 'AAA\r\nBBBB\r\nC\r\n';
  for (let size = 1; size <= text.length; size++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(Buffer.from(text.slice(i, i + size)));
    const r = run(chunks, 64);
    t.same(r.frames, ['AAA', 'BBBB', 'C'], `chunk size ${size}`);
  }
});

t.test('REQ-SERIAL-001 an over-long line is discarded up to the next delimiter and counted', async (t) => {
  const long = Buffer.alloc(1000, 0x41);
  const r = run([Buffer.from('OK1\r\n'), long.subarray(0, 300), long.subarray(300), Buffer.from('TAIL\r\nOK2\r\n')], 64);
  t.same(r.frames, ['OK1', 'OK2'], 'the tail of the long line is not mistaken for a frame');
  t.equal(r.overflows, 1);
});

t.test('REQ-SERIAL-002 a partial frame at end of stream is counted, never passed on', async (t) => {
  const r = run([Buffer.from('OK\r\nPART')], 64);
  t.same(r.frames, ['OK']);
  t.equal(r.truncated, 1);
});
