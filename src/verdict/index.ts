export * from './types.ts';
export { decide, decideConnection, verdictFor, reasonText, type DecideOptions } from './decide.ts';
export { matchHttpRule } from './match.ts';
export { parseRequestHead, STRICT_RULES, type StrictRule, type StrictViolation, type HeadResult, type BodyFraming } from './http1-strict.ts';
export { resolveIp, describePeer, selectorMatches, peerMatches, entityMatches, type PeerRef } from './peers.ts';
export { type HttpRequest, type HttpVersion, hostOf, headerValues, KNOWN_METHODS } from './http.ts';
export { DEFAULT_LIMITS } from './limits.ts';
export { h2Request, strictRuleText, H2_STRICT_RULES, type H2StrictRule, type AnyStrictRule, type H2RequestResult } from './h2-request.ts';
