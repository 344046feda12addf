/** sip/guard — anti-abuse at the public SIP edge: per-source rate limit and bans (before parsing), identity stripping and auth-failure penalties (on the request pipeline). */
export { Guard, DEFAULT_GUARD, type GuardOptions, type GuardSource } from "./guard.js";
export { GuardInterceptor, stripIdentity, IDENTITY_HEADERS } from "./interceptor.js";
