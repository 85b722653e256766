// Public surface of the simulator's lower layers.
export { readCapture, CaptureStream } from './capture/read.ts';
export { CaptureError, LINKTYPE } from './capture/types.ts';
export type { CaptureRecord, ReadOptions, ByteSource } from './capture/types.ts';
export { pcapBytes, PcapFileWriter } from './capture/writer.ts';
export { decodePacket, decodeInto, PacketView } from './decode/index.ts';
export type { DecodedPacket } from './decode/index.ts';
export { replay, replaySync, replayParallel, ReplayEngine } from './replay/index.ts';
export type * from './replay/types.ts';
export { tcpConn, TcpConn, mergeByTime } from './builder/tcp-conn.ts';
export type { FixturePacket } from './builder/tcp-conn.ts';
export { tcpFrame, reframe, checksumsValid } from './builder/frames.ts';
