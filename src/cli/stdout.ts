// Output that is written as it is produced, whatever reads it: `process.stdout.write` to a pipe
// queues in memory what the reader has not taken yet (a jsonpb replay of a large capture grew
// to gigabytes), so lines are gathered in 64 KiB batches and written with fs.writeSync.
import { writeSync } from 'node:fs';

const BATCH_CHARS = 64 * 1024;
const pause = new Int32Array(new SharedArrayBuffer(4));

export class StdoutWriter {
  private parts: string[] = [];
  private chars = 0;

  constructor(private readonly fd = 1) {}

  line(text: string): void {
    this.parts.push(text, '\n');
    this.chars += text.length + 1;
    if (this.chars >= BATCH_CHARS) this.flush();
  }

  write(text: string): void {
    this.parts.push(text);
    this.chars += text.length;
    if (this.chars >= BATCH_CHARS) this.flush();
  }

  flush(): void {
    if (!this.parts.length) return;
    writeAll(this.fd, Buffer.from(this.parts.join('')));
    this.parts = [];
    this.chars = 0;
  }
}

function writeAll(fd: number, buf: Buffer): void {
  for (let at = 0; at < buf.length;) {
    try {
      at += writeSync(fd, buf, at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // a non-blocking pipe that is full: wait for the reader (1 ms) and write on
      if (code === 'EAGAIN') Atomics.wait(pause, 0, 0, 1);
      // `l7bpf replay ... | head`: the reader is gone, end quietly as main.ts does
      else if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
      else throw e;
    }
  }
}
