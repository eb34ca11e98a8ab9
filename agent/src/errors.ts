/**
 * Typed errors thrown at boundaries and at start-up. Each carries a stable `code`
 * that tests, logs and the gateway status use; messages name the field and the
 * rule, never a measured value (readings are patient data).
 *
 * On the hot path (frames, observations) errors are returned as result unions and
 * counted instead of thrown: see the drivers and the validation stage.
 */
export class VigilError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration file is missing, unreadable or invalid. `issues` lists every problem as `path: message`. */
export class ConfigError extends VigilError {
  constructor(
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super('CONFIG_INVALID', `invalid configuration:\n  ${issues.join('\n  ')}`, options);
  }
}

/**
 * A publish to the broker failed or could not be queued. `brokerReasonCode` is set when
 * the broker itself refused the message (MQTT v5 PUBACK reason code >= 0x80, e.g. 0x87
 * not authorized): retrying the same message cannot succeed.
 */
export class PublishError extends VigilError {
  readonly brokerReasonCode: number | undefined;
  constructor(message: string, options?: { cause?: unknown; brokerReasonCode?: number }) {
    super('PUBLISH_FAILED', message, options);
    this.brokerReasonCode = options?.brokerReasonCode;
  }
}

/** A serial device could not be opened or failed while open. */
export class SerialError extends VigilError {
  constructor(
    code: 'SERIAL_OPEN' | 'SERIAL_IO',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A command-line usage error (exit code 2). */
export class UsageError extends VigilError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
