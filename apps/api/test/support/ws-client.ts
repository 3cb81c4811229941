import WebSocket from 'ws';
import { credentialsFor } from './auth.js';
import { parseServerMessage, type OrderEvent, type ServerMessage } from '@orders/contracts';

/**
 * A real WebSocket client for integration tests: validates every frame against the contracts,
 * flattens batches, and remembers how the connection closed.
 */
export class TestClient {
  readonly frames: ServerMessage[] = [];
  readonly invalid: string[] = [];
  closeCode: number | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly closedPromise: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary) => {
      const text = data.toString('utf8');
      const parsed = isBinary ? { ok: false as const, error: 'binary frame' } : parseServerMessage(text);
      if (parsed.ok) this.frames.push(parsed.value);
      else this.invalid.push(`${parsed.error}: ${text.slice(0, 200)}`);
      this.notify();
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', (code) => {
        this.closeCode = code;
        this.notify();
        resolve(code);
      });
    });
    socket.on('error', () => undefined);
    // Conditions may count pings (liveness tests).
    socket.on('ping', () => queueMicrotask(() => this.notify()));
  }

  /**
   * Connects to `url` (ws://127.0.0.1:port/ws) and waits for the handshake. The upgrade carries `headers`, by default
   * the credentials registered for that port (an app started with `startAppAsAdmin`).
   */
  static async connect(url: string, headers: Record<string, string> = credentialsFor(url)): Promise<TestClient> {
    const socket = new WebSocket(url, { headers });
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  /** Connects and subscribes; resolves once `ready` arrived. */
  static async subscribe(
    url: string,
    message: Record<string, unknown> = {},
    headers: Record<string, string> = credentialsFor(url),
  ): Promise<TestClient> {
    const client = await TestClient.connect(url, headers);
    client.send({ type: 'subscribe', ...message });
    await client.waitFor(() => client.control().some((m) => m.type === 'ready'), 'ready');
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Order events received so far, batches flattened, in arrival order. */
  events(): OrderEvent[] {
    return this.frames.flatMap((frame) =>
      frame.type === 'batch' ? frame.events : frame.type.startsWith('order.') ? [frame as OrderEvent] : [],
    );
  }

  control(): ServerMessage[] {
    return this.frames.filter((frame) => frame.type !== 'batch' && !frame.type.startsWith('order.'));
  }

  lastPosition(): string | null {
    return this.events().at(-1)?.position ?? null;
  }

  /** Waits (bounded) until `condition` holds, re-checking on every frame. */
  waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out waiting for ${what}; got ${this.events().length} events, control ${JSON.stringify(this.control())}, invalid ${JSON.stringify(this.invalid)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  waitForEvents(count: number, timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.events().length >= count, `${count} events`, timeoutMs);
  }

  /** Resolves with the close code once the socket closed (bounded). */
  async closed(timeoutMs = 15_000): Promise<number> {
    await this.waitFor(() => this.closeCode !== null, 'close', timeoutMs);
    return this.closeCode ?? -1;
  }

  /** Closes from the client side and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.closeCode !== null) return;
    this.socket.close(1000);
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, 2000);
    });
    const closedInTime = await Promise.race([this.closedPromise.then(() => true), gaveUp]);
    clearTimeout(timer);
    if (!closedInTime) this.socket.terminate();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
