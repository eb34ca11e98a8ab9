/**
 * The errors of the native boundary, and the guard every call into the addon goes through.
 *
 * Anything the addon throws (a Rust panic, caught by `#[napi(catch_unwind)]` in
 * the binding crate, or a type conversion error) surfaces as a `NativeError` with code
 * `NATIVE_CALL` and the original error as `cause`; a missing or stale addon is `NATIVE_LOAD`.
 */
import { VigilError } from '../errors';

/** The addon could not be loaded (`NATIVE_LOAD`) or a call into it threw (`NATIVE_CALL`). */
export class NativeError extends VigilError {
  declare readonly code: NativeErrorCode;

  constructor(code: NativeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Stable codes of `NativeError`. */
export type NativeErrorCode = 'NATIVE_LOAD' | 'NATIVE_CALL';

/**
 * `call`, with anything it throws rethrown as `NativeError` `NATIVE_CALL` naming the export
 * (`name`) and keeping the original as `cause`. Every call into the addon is wrapped in it.
 */
export function guardNativeCall<A extends unknown[], R>(name: string, call: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      return call(...args);
    } catch (err) {
      throw new NativeError('NATIVE_CALL', `native ${name} failed: ${messageOf(err)}`, { cause: err });
    }
  };
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
