/**
 * The wire examples of the interface documents (docs/hw-sim.md, "Wire examples"): every fenced
 * block whose info string is `wire <interface> <id>`, paired with the block `json values <id>`
 * that follows it in the same document (the values written by hand beside it). Read by the
 * golden test and by the system test that replays a document's HL7 example.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WireExample {
  /** Document path relative to the project root. */
  doc: string;
  /** The interface, e.g. masimo-ascii, vigil-patch, hl7-pcd01. */
  iface: string;
  id: string;
  /** The lines of the wire block, as written. */
  wireLines: string[];
  /** The values block, parsed (null when missing or not JSON: reported by `problems`). */
  values: Record<string, unknown> | null;
  /** 1-based line of the wire block's opening fence. */
  line: number;
}

export interface WireExamples {
  examples: WireExample[];
  /** Pairing problems (a wire block without values, values without a wire block, a duplicate id, bad JSON). */
  problems: string[];
}

interface Block {
  info: string;
  body: string[];
  line: number;
}

function fencedBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  let open: Block | null = null;
  text.split(/\r?\n/).forEach((line, i) => {
    if (open === null) {
      const m = /^```(.*)$/.exec(line);
      if (m) open = { info: (m[1] ?? '').trim(), body: [], line: i + 1 };
    } else if (line.trim() === '```') {
      blocks.push(open);
      open = null;
    } else {
      open.body.push(line);
    }
  });
  return blocks;
}

/** Reads every Markdown document under `dir` (default docs/interfaces) of the project at `root`. */
export function readWireExamples(root: string, dir = join('docs', 'interfaces')): WireExamples {
  const examples: WireExample[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const name of readdirSync(join(root, dir)).filter((n) => n.endsWith('.md')).sort()) {
    const doc = join(dir, name);
    const blocks = fencedBlocks(readFileSync(join(root, doc), 'utf8'));
    const valuesById = new Map<string, Block>();
    for (const b of blocks) {
      const m = /^json\s+values\s+(\S+)$/.exec(b.info);
      if (m?.[1]) valuesById.set(m[1], b);
    }
    const used = new Set<string>();
    for (const b of blocks) {
      const m = /^wire\s+(\S+)\s+(\S+)$/.exec(b.info);
      if (!m?.[1] || !m[2]) {
        if (/^wire\b/.test(b.info)) problems.push(`${doc}:${b.line}: a wire block needs "wire <interface> <id>"`);
        continue;
      }
      const [, iface, id] = m;
      if (seen.has(id)) problems.push(`${doc}:${b.line}: example id ${id} is used twice`);
      seen.add(id);
      const valuesBlock = valuesById.get(id);
      let values: Record<string, unknown> | null = null;
      if (valuesBlock === undefined) problems.push(`${doc}:${b.line}: wire example ${id} has no "json values ${id}" block`);
      else {
        used.add(id);
        try {
          values = JSON.parse(valuesBlock.body.join('\n')) as Record<string, unknown>;
        } catch (err) {
          problems.push(`${doc}:${valuesBlock.line}: values of ${id} are not JSON (${err instanceof Error ? err.message : String(err)})`);
        }
      }
      examples.push({ doc, iface, id, wireLines: b.body, values, line: b.line });
    }
    for (const id of valuesById.keys()) if (!used.has(id)) problems.push(`${doc}: values block ${id} has no wire block`);
  }
  return { examples, problems };
}

/** The bytes an HL7 example stands for: one MLLP block, each segment line ended by CR. */
export function hl7WireBytes(lines: readonly string[]): Buffer {
  const text = lines.filter((l) => l.length > 0).map((l) => `${l}\r`).join('');
  return Buffer.concat([Buffer.from([0x0b]), Buffer.from(text, 'utf8'), Buffer.from([0x1c, 0x0d])]);
}

/** The bytes of a hex block (whitespace-separated pairs). */
export function hexWireBytes(lines: readonly string[]): Buffer {
  const hex = lines.join(' ').trim().split(/\s+/).filter((h) => h.length > 0);
  if (!hex.every((h) => /^[0-9a-fA-F]{2}$/.test(h))) throw new Error('a hex wire block holds something that is not a byte');
  return Buffer.from(hex.join(''), 'hex');
}
