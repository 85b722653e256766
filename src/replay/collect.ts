// A full garbage collection every 256k capture records, for long replays. V8 lets a heap that
// sees much short-lived garbage (jsonpb's flow objects) grow far past its live data before it
// collects: 760k packets' jsonpb took 316 MB of RSS with 16 MB live. Each collection takes
// milliseconds; replayCapture's onProgress comes every 65,536 records.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function periodicCollector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let calls = 0;
  return () => {
    if (++calls % 4 === 0) gc();
  };
}
