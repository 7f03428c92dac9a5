/** A flag, environment variable or config key with a bad value, an unknown flag, or one skiff does not support yet. */
export class FlagError extends Error {
  constructor(
    message: string,
    /** The flag concerned, as `--name`. */
    readonly flag: string,
    /** The offending value, when there is one. */
    readonly value?: string,
  ) {
    super(message);
    this.name = 'FlagError';
  }
}
