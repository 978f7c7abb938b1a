// One wrapper for an error that must cross a layer untouched.

/**
 * Carries an error through a layer that would otherwise take it as its own (retry it, settle it as
 * one job's failure): that layer lets a Fatal pass, and whoever stops it throws `error` as it is.
 */
export class Fatal {
  constructor(readonly error: unknown) {}
}
