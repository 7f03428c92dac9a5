/** The message of a thrown value: Error.message, or the value as text (a rejection need not be an Error). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
