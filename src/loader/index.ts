// The loader's public face: the one module that touches the kernel (libbpf through koffi,
// in libbpf.ts only), behind this index. Objects, maps, test runs, the ring buffer, the
// kernel's features, typed errors, and a fake libbpf for unit tests.
export * from './libbpf.ts';
export * from './object.ts';
export * from './maps.ts';
export * from './testrun.ts';
export * from './ringbuf.ts';
export * from './errors.ts';
export * from './features.ts';
export * from './types.ts';
export * from './fake.ts';
export * from './event.generated.ts';
export * from './pin.ts';
