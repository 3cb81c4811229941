import type { PreparedOrderFilter } from '@orders/contracts';
import type { Client } from './client.js';

/** One filter and the live clients that share it: the unit a fan-out builds one frame for. */
export interface FilterGroup {
  readonly filter: PreparedOrderFilter;
  readonly clients: Set<Client>;
}

/** Live clients grouped by filter (equal filters share one key, whatever their spelling). */
export class FilterGroups {
  private readonly groups = new Map<string, FilterGroup>();

  add(client: Client): void {
    const key = client.filter.key;
    let group = this.groups.get(key);
    if (!group) {
      group = { filter: client.filter, clients: new Set() };
      this.groups.set(key, group);
    }
    group.clients.add(client);
  }

  remove(client: Client): void {
    const key = client.filter.key;
    const group = this.groups.get(key);
    if (!group) return;
    group.clients.delete(client);
    if (group.clients.size === 0) this.groups.delete(key);
  }

  [Symbol.iterator](): IterableIterator<FilterGroup> {
    return this.groups.values();
  }
}
