import type { OrderEvent, PreparedOrderFilter } from '@orders/contracts';
import type { Serialized } from '../messages.js';
import type { ReplayHandle } from '../replay.js';
import type { TextFrame } from '../text-frame.js';
import type { ReplayAccount } from './replay-budget.js';
import { EVERY_ORDER, type EffectiveFilter } from './scope.js';

/** What the hub needs from a socket (the socket adapter in routes/ws.ts provides it over a `ws` WebSocket). */
export interface HubSocket {
  /** Sends one text message (a Buffer holds its UTF-8 bytes). */
  send(data: Buffer | string): void;
  /**
   * Sends a text message framed once for many sockets. A socket without it, or one that cannot take the frame
   * as is, sends `frame.payload` like `send`. `bufferedAmount` must count what it writes.
   */
  sendFrame?(frame: TextFrame): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  readonly bufferedAmount: number;
}

/** `HubSocket.readyState` of an open socket. */
export const OPEN = 1;

/** A connection as seen by the transport: feed it frames, tell it when the socket closed. */
export interface HubConnection {
  /** A frame from the client. */
  message(data: string | Buffer, isBinary?: boolean): void;
  /** The socket closed (by either side). */
  closed(): void;
}

/**
 * connected: no subscription yet; replaying: fed from history, not from the fan-out; live: in a filter group;
 * closed: gone (every later write or replay step is dropped).
 */
export type ClientState = 'connected' | 'replaying' | 'live' | 'closed';

/** One socket's state in the hub. */
export class Client {
  state: ClientState = 'connected';
  filter: EffectiveFilter = EVERY_ORDER;
  /** Bumped on every subscribe, so an older subscription's replay notices it is stale. */
  generation = 0;
  invalidFrames = 0;
  /** The subscription's filter, normalized (status order, absent parts): a repeated subscribe compares it. */
  filterKey = '';
  /** Subscribe frames in the current rate-limit window, and when that window started. */
  subscribes = 0;
  subscribeWindowStart = 0;
  replay: ReplayHandle | null = null;
  /** The position the replay in flight started after. */
  replaySince: string | null = null;
  /** Events read from history, waiting to go out as one frame. */
  replayed: Serialized<OrderEvent>[] = [];
  /** The budgets this socket's replays are paid from (its principal's and its address's). */
  replayAccounts: readonly ReplayAccount[] = [];

  /** @param scope the principal's scope, confining every subscription of this socket (null: none). */
  constructor(
    readonly socket: HubSocket,
    readonly scope: PreparedOrderFilter | null = null,
  ) {}
}
