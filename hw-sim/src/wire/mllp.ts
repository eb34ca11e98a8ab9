/**
 * MLLP, the block an HL7 v2 message travels in on a serial line or a TCP connection, as
 * docs/interfaces/hl7-pcd01.md ("Framing (MLLP)") gives it from IHE PCD TF Vol 2 Appendix C:
 * 0x0B (VT), the message, 0x1C 0x0D (FS CR). hw-sim's own, written from the document (it
 * imports nothing from the agent). Pure.
 */

export const START_BLOCK = 0x0b;
export const END_BLOCK = Buffer.from([0x1c, 0x0d]);
/**
 * The largest message read back (the gateway's ACKs are a few hundred bytes): the document's
 * 256 KiB bound for a message, so that a peer that never ends a block grows nothing.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** One message in its block. */
export function frameMllp(message: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([START_BLOCK]), message, END_BLOCK]);
}

/**
 * Splits what the peer sends into the messages of its blocks, however the bytes are split:
 * everything between a start block and the next end block. Bytes outside a block are skipped;
 * a start block inside a block starts it over (the sender restarted); a block longer than
 * MAX_MESSAGE_BYTES is dropped.
 */
export class MllpReader {
  private block: number[] | null = null;
  private sawFs = false;

  push(bytes: Uint8Array): Buffer[] {
    const messages: Buffer[] = [];
    for (const byte of bytes) {
      if (byte === START_BLOCK) {
        this.block = [];
        this.sawFs = false;
        continue;
      }
      if (this.block === null) continue;
      if (this.sawFs) {
        this.sawFs = false;
        if (byte === 0x0d) {
          messages.push(Buffer.from(this.block));
          this.block = null;
          continue;
        }
        this.block.push(0x1c);
      }
      if (byte === 0x1c) this.sawFs = true;
      else this.block.push(byte);
      if (this.block.length > MAX_MESSAGE_BYTES) this.block = null;
    }
    return messages;
  }
}
