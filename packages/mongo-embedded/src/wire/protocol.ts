import { BSON } from 'bson';

/** Opcodes the engine speaks. */
export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;

export const HEADER_SIZE = 16;
/** Largest message accepted (what hello advertises as maxMessageSizeBytes). */
export const MAX_MESSAGE_SIZE = 48_000_000;
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
/** mongod allows command bodies a little larger than a document so a 16 MiB document still fits in a command. */
export const MAX_COMMAND_BODY_SIZE = MAX_BSON_OBJECT_SIZE + 16 * 1024;

const FLAG_CHECKSUM_PRESENT = 1;
const FLAG_MORE_TO_COME = 2;

/** A frame that cannot be understood; the connection that sent it is closed. */
export class ProtocolError extends Error {}

export type Doc = Record<string, unknown>;

/** A decoded request: the command body with kind-1 sections merged in. */
export interface WireRequest {
  requestId: number;
  opCode: typeof OP_QUERY | typeof OP_MSG;
  body: Doc;
  /** OP_MSG moreToCome: the client expects no reply. */
  moreToCome: boolean;
  /** Size in bytes of the largest single BSON document in the message. */
  largestDocumentSize: number;
  /** Size in bytes of the command body (kind-0 section or OP_QUERY document). */
  bodySize: number;
}

const DESERIALIZE_OPTIONS = { promoteValues: false, bsonRegExp: true, validation: { utf8: true } } as const;

/** Reads the message length from a header, validating it; returns null when fewer than 4 bytes are buffered. */
export function readMessageLength(buf: Buffer): number | null {
  if (buf.length < 4) return null;
  const length = buf.readInt32LE(0);
  if (length < HEADER_SIZE) throw new ProtocolError(`message length ${length} is smaller than the header`);
  if (length > MAX_MESSAGE_SIZE) throw new ProtocolError(`message length ${length} exceeds ${MAX_MESSAGE_SIZE}`);
  return length;
}

function readDocument(buf: Buffer, offset: number, end: number): { doc: Doc; size: number } {
  if (offset + 5 > end) throw new ProtocolError('truncated BSON document');
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > end) throw new ProtocolError(`invalid BSON document size ${size}`);
  try {
    const doc = BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE_OPTIONS);
    return { doc, size };
  } catch (err) {
    throw new ProtocolError(`invalid BSON: ${(err as Error).message}`);
  }
}

function readCString(buf: Buffer, offset: number, end: number): { value: string; next: number } {
  const zero = buf.indexOf(0, offset);
  if (zero < 0 || zero >= end) throw new ProtocolError('unterminated cstring');
  return { value: buf.toString('utf8', offset, zero), next: zero + 1 };
}

/** Decodes one complete message (header included). Throws ProtocolError on anything malformed. */
export function decodeMessage(msg: Buffer): WireRequest {
  const length = msg.readInt32LE(0);
  const requestId = msg.readInt32LE(4);
  const opCode = msg.readInt32LE(12);
  if (opCode === OP_QUERY) {
    let offset = HEADER_SIZE + 4; // flags
    const ns = readCString(msg, offset, length);
    offset = ns.next + 8; // numberToSkip, numberToReturn
    const { doc, size } = readDocument(msg, offset, length);
    if (!ns.value.endsWith('.$cmd'))
      throw new ProtocolError(`OP_QUERY is only supported for commands, not ${ns.value}`);
    const db = ns.value.slice(0, -'.$cmd'.length);
    // Legacy handshakes may wrap the command as { $query: {...} }.
    const inner = doc.$query;
    const body: Doc =
      inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? { ...(inner as Doc) } : doc;
    body.$db = db;
    return { requestId, opCode: OP_QUERY, body, moreToCome: false, largestDocumentSize: size, bodySize: size };
  }
  if (opCode !== OP_MSG) throw new ProtocolError(`unsupported opCode ${opCode}`);
  if (length < HEADER_SIZE + 5) throw new ProtocolError('OP_MSG too short');
  const flags = msg.readUInt32LE(HEADER_SIZE);
  const end = flags & FLAG_CHECKSUM_PRESENT ? length - 4 : length;
  let offset = HEADER_SIZE + 4;
  let body: Doc | null = null;
  const sequences: [string, Doc[]][] = [];
  let largest = 0;
  let bodySize = 0;
  while (offset < end) {
    const kind = msg.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      if (body) throw new ProtocolError('OP_MSG with more than one kind-0 section');
      const { doc, size } = readDocument(msg, offset, end);
      body = doc;
      bodySize = size;
      largest = Math.max(largest, size);
      offset += size;
    } else if (kind === 1) {
      if (offset + 4 > end) throw new ProtocolError('truncated kind-1 section');
      const sectionSize = msg.readInt32LE(offset);
      const sectionEnd = offset + sectionSize;
      if (sectionSize < 5 || sectionEnd > end) throw new ProtocolError(`invalid kind-1 section size ${sectionSize}`);
      const id = readCString(msg, offset + 4, sectionEnd);
      let pos = id.next;
      const docs: Doc[] = [];
      while (pos < sectionEnd) {
        const { doc, size } = readDocument(msg, pos, sectionEnd);
        docs.push(doc);
        largest = Math.max(largest, size);
        pos += size;
      }
      sequences.push([id.value, docs]);
      offset = sectionEnd;
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) throw new ProtocolError('OP_MSG without a kind-0 section');
  for (const [id, docs] of sequences) {
    if (Object.prototype.hasOwnProperty.call(body, id)) throw new ProtocolError(`duplicate field ${id} in OP_MSG`);
    body[id] = docs;
  }
  return {
    requestId,
    opCode: OP_MSG,
    body,
    moreToCome: (flags & FLAG_MORE_TO_COME) !== 0,
    largestDocumentSize: largest,
    bodySize,
  };
}

let nextResponseId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_SIZE);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(nextResponseId++ & 0x7fffffff, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** Encodes a reply in the opcode family of the request (OP_REPLY for OP_QUERY, OP_MSG otherwise). */
export function encodeReply(request: Pick<WireRequest, 'requestId' | 'opCode'>, reply: Doc): Buffer {
  const body = BSON.serialize(reply);
  if (request.opCode === OP_QUERY) {
    const prefix = Buffer.alloc(20);
    prefix.writeInt32LE(0, 0); // responseFlags
    prefix.writeBigInt64LE(0n, 4); // cursorID
    prefix.writeInt32LE(0, 12); // startingFrom
    prefix.writeInt32LE(1, 16); // numberReturned
    const length = HEADER_SIZE + prefix.length + body.length;
    return Buffer.concat([header(length, request.requestId, OP_REPLY), prefix, body], length);
  }
  const flagsAndKind = Buffer.alloc(5); // flagBits 0, section kind 0
  const length = HEADER_SIZE + flagsAndKind.length + body.length;
  return Buffer.concat([header(length, request.requestId, OP_MSG), flagsAndKind, body], length);
}
