export * from './types.ts';
export { parseInventory, loadInventory } from './parse.ts';
export { allocateIdentities, labelKey } from './identity.ts';
export { findEndpoint, endpointByIp } from './lookup.ts';
