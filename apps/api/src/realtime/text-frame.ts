/*
 * A WebSocket text message encoded once for every socket it goes to (RFC 6455 §5.2): the complete server→client
 * frame (FIN, opcode 1, unmasked, shortest length form) in one buffer, with the payload as a view into it.
 * A fan-out writes `frame` to each socket's connection as one write, instead of `ws` building a header per
 * socket and writing header and payload as two corked writes (writev).
 */

/** A text message framed once: `frame` is header + payload, `payload` the UTF-8 text alone (a view of `frame`). */
export interface TextFrame {
  readonly frame: Buffer;
  readonly payload: Buffer;
}

const FIN_TEXT = 0x81;

/** Length of the frame header for a payload of `length` bytes (no mask: server frames are never masked). */
export function headerLength(length: number): number {
  if (length < 126) return 2;
  if (length < 65536) return 4;
  return 10;
}

/** Encodes `text` as one unmasked, final text frame. */
export function encodeTextFrame(text: string): TextFrame {
  const length = Buffer.byteLength(text, 'utf8');
  const offset = headerLength(length);
  const frame = Buffer.allocUnsafe(offset + length);
  frame[0] = FIN_TEXT;
  if (offset === 2) {
    frame[1] = length;
  } else if (offset === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    // 64-bit length; a JS string is far below 2^53, so the high 16 bits are zero.
    frame.writeUInt16BE(0, 2);
    frame.writeUIntBE(length, 4, 6);
  }
  frame.write(text, offset, length, 'utf8');
  return { frame, payload: frame.subarray(offset) };
}
