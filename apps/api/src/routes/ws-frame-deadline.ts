import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** The parts of a `ws` socket the deadline uses: its events, and its Receiver (read by reflection). */
type FrameSocket = Pick<WebSocket, 'on' | 'off'>;

/** ws's Receiver state between frames (GET_INFO) and while it defers an event; any other state is mid-frame. */
const RECEIVER_BETWEEN_FRAMES = new Set([0, 6]);

/**
 * Whether ws's frame parser is inside a frame: header or payload partly read, or a fragmented message begun and
 * not finished. Reads ws 8's Receiver (pinned version; see directWriter in ws.ts for the same contract): its
 * `_state`, `_bufferedBytes` and `_fragments`; null when the socket has no Receiver of that shape (a test pins
 * that shape: a half frame is cut).
 */
function midFrameProbe(socket: FrameSocket): (() => boolean) | null {
  const receiver: unknown = Reflect.get(socket, '_receiver');
  if (typeof receiver !== 'object' || receiver === null) return null;
  if (typeof Reflect.get(receiver, '_state') !== 'number') return null;
  return () => {
    const state = Reflect.get(receiver, '_state') as number;
    const buffered = Reflect.get(receiver, '_bufferedBytes') as number;
    const fragments = Reflect.get(receiver, '_fragments') as unknown[];
    return !RECEIVER_BETWEEN_FRAMES.has(state) || buffered > 0 || fragments.length > 0;
  };
}

/**
 * Gives a client `timeoutMs` to finish each frame it starts (and each fragmented message): a peer that sends half
 * a frame and stops would otherwise hold the connection, its buffers and its slot in the hub forever, since
 * ping/pong cannot get past the half frame. Past the limit `onExpired` runs (the route closes with 1008).
 * Returns the function that stops watching. See docs/ARCHITECTURE.md, "Abuse limits".
 */
export function watchFrameDeadline(
  socket: FrameSocket,
  connection: Duplex,
  timeoutMs: number,
  onExpired: () => void,
): () => void {
  const probe = midFrameProbe(socket);
  if (probe === null) return () => undefined;
  let timer: NodeJS.Timeout | null = null;
  // A frame completed since the timer was armed: the one in progress now is a new frame with a full allowance.
  let completed = false;
  const disarm = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  const expire = (): void => {
    timer = null;
    if (probe()) onExpired();
  };
  // ws's own 'data' listener was attached first, so the Receiver has parsed this chunk by the time this runs.
  const onData = (): void => {
    if (!probe()) {
      disarm();
    } else if (timer === null || completed) {
      disarm();
      timer = setTimeout(expire, timeoutMs);
    }
    completed = false;
  };
  const onFrame = (): void => {
    completed = true;
  };
  connection.on('data', onData);
  socket.on('message', onFrame);
  socket.on('ping', onFrame);
  socket.on('pong', onFrame);
  return () => {
    disarm();
    connection.off('data', onData);
    socket.off('message', onFrame);
    socket.off('ping', onFrame);
    socket.off('pong', onFrame);
  };
}
