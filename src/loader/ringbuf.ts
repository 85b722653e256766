// Reading the pinned `events` ring buffer from Node without blocking the event loop: the
// ring buffer's epoll fd is waited on in a worker thread (koffi async epoll_wait), and
// ring_buffer__consume runs on the main thread when it says data is there (docs/deploy.md, observe).
import { closeSync } from 'node:fs';
import type { Libbpf, RingbufHandle } from './types.ts';
import { pinned } from './pin.ts';

export class EventsUnavailableError extends Error {
  constructor(path: string) {
    super(`observe: no events map pinned at ${path} (hint: is the deployment up? see l7bpf status; run in the same mount namespace as deploy)`);
    this.name = 'EventsUnavailableError';
  }
}

export interface EventReader {
  /** what is in the ring buffer now */
  drain(): Buffer[];
  /** waits up to `ms` for new records (resolves early when some arrive) */
  wait(ms: number): Promise<void>;
  close(): void;
}

export function openEvents(lib: Libbpf, path: string): EventReader {
  const fd = pinned(lib, path);
  if (fd === null) throw new EventsUnavailableError(path);
  let ring: RingbufHandle;
  try {
    ring = lib.ringbufOpen(fd);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const epfd = ring.epollFd();
  let closed = false;
  return {
    drain: () => ring.consume(),
    wait: async (ms) => {
      if (epfd >= 0) await lib.epollWait(epfd, ms);
      else await new Promise((r) => setTimeout(r, ms));
    },
    close() {
      if (closed) return;
      closed = true;
      ring.free();
      closeSync(fd);
    },
  };
}

/** Records as they come: drains, then (when following) waits and drains until aborted. */
export async function* records(reader: EventReader, follow: boolean, signal?: AbortSignal, pollMs = 200): AsyncGenerator<Buffer> {
  for (;;) {
    for (const b of reader.drain()) yield b;
    if (!follow || signal?.aborted) return;
    await reader.wait(pollMs);
    if (signal?.aborted) {
      for (const b of reader.drain()) yield b;
      return;
    }
  }
}
