export * from './types.ts';
export { parseInventory, loadInventory, type InventoryOptions } from './parse.ts';
export { allocateIdentities, labelKey } from './identity.ts';
export { findEndpoint, endpointByIp, findService, serviceByClusterIp, serviceBackends, findNode } from './lookup.ts';
