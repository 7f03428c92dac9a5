/**
 * resource.Quantity: parse (`100m`, `1Gi`, `1e3`, `0.5`), canonical format, compare and convert.
 * Values are held exactly as a BigInt count of nano-units (10^-9), the finest precision Kubernetes
 * keeps; anything finer is rounded up, as upstream does. The canonical string follows
 * k8s.io/apimachinery/pkg/api/resource: `0.5` prints as `500m`, `1.5Gi` as `1536Mi`, `1000` as `1k`.
 */

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value times 10^9, exact. */
  nanos: bigint;
  /** The suffix family the value was written in; it decides how the value is printed back. */
  format: QuantityFormat;
}

export class QuantityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

/** Upstream ErrFormatWrong. */
export const quantityFormatMessage = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const NANO = 10n ** 9n;

const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

function pow10(exp: number): bigint {
  return 10n ** BigInt(exp);
}

/** ceil(a / b) for b > 0 (towards +infinity, like upstream's rounding up of excess precision). */
function divCeil(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/** Parses a quantity string; throws QuantityError with upstream's message when it is malformed. */
export function parseQuantity(input: string): Quantity {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(input);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new QuantityError(quantityFormatMessage);
  const negative = m[1] === '-';
  const whole = m[2]!;
  const frac = m[3] ?? '';
  const suffix = m[4]!;

  let format: QuantityFormat;
  let base2 = 0;
  let exp10 = 0;
  if (suffix in decimalSuffixes) {
    format = 'DecimalSI';
    exp10 = decimalSuffixes[suffix]!;
  } else if (suffix in binarySuffixes) {
    format = 'BinarySI';
    base2 = binarySuffixes[suffix]!;
  } else if (/^[eE][-+]?[0-9]+$/.test(suffix)) {
    format = 'DecimalExponent';
    exp10 = Number(suffix.slice(1));
    if (!Number.isSafeInteger(exp10)) throw new QuantityError('unable to parse quantity\'s suffix');
  } else {
    if (!/^[eEinumkKMGTP]*[-+]?[0-9]*$/.test(suffix)) throw new QuantityError(quantityFormatMessage);
    throw new QuantityError("unable to parse quantity's suffix");
  }

  // mantissa = digits / 10^frac.length; value = mantissa * 10^exp10 * 2^base2; store value * 10^9.
  const digits = BigInt((whole + frac).replace(/^0+(?=.)/, '') || '0');
  const num = digits * (1n << BigInt(base2));
  const scale = exp10 + 9 - frac.length;
  let nanos: bigint;
  if (scale >= 0) nanos = num * pow10(scale);
  else nanos = divCeil(num, pow10(-scale));
  if (negative) nanos = -nanos;
  return { nanos, format };
}

/** parseQuantity that returns undefined instead of throwing. */
export function tryParseQuantity(s: string): Quantity | undefined {
  try {
    return parseQuantity(s);
  } catch (e) {
    if (e instanceof QuantityError) return undefined;
    throw e;
  }
}

export function isValidQuantity(s: string): boolean {
  return tryParseQuantity(s) !== undefined;
}

/** Milli-units, rounded up (MilliValue): `100m` → 100, `1` → 1000, `1Gi` → 1073741824000. */
export function toMilli(q: Quantity): bigint {
  return divCeil(q.nanos, 10n ** 6n);
}

/** Whole units, rounded up (Value): `1Gi` → 1073741824, `100m` → 1. */
export function toUnits(q: Quantity): bigint {
  return divCeil(q.nanos, NANO);
}

/** The value as a floating-point number (approximate for huge or very fine values). */
export function toNumber(q: Quantity): number {
  return Number(q.nanos) / 1e9;
}

export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

/** Sum, keeping the first operand's format (as Quantity.Add does). */
export function addQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos + b.nanos, format: a.format };
}

export function quantityFromMilli(milli: bigint | number, format: QuantityFormat = 'DecimalSI'): Quantity {
  return { nanos: BigInt(milli) * 10n ** 6n, format };
}

const decimalSuffixByExp: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
const binarySuffixByPow: Record<number, string> = { 0: '', 10: 'Ki', 20: 'Mi', 30: 'Gi', 40: 'Ti', 50: 'Pi', 60: 'Ei' };

/** The canonical string of a quantity (Quantity.String()). */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return '0';
  const negative = q.nanos < 0n;
  const abs = negative ? -q.nanos : q.nanos;
  const sign = negative ? '-' : '';
  let format = q.format;
  // Binary suffixes only fit whole numbers of at least 1024 in magnitude; smaller or fractional
  // values print in decimal SI (upstream CanonicalizeBytes).
  if (format === 'BinarySI' && (abs < 1024n * NANO || abs % NANO !== 0n)) format = 'DecimalSI';
  if (format === 'BinarySI') {
    let units = abs / NANO;
    let pow = 0;
    while (pow < 60 && units % 1024n === 0n) {
      units /= 1024n;
      pow += 10;
    }
    return `${sign}${units}${binarySuffixByPow[pow]}`;
  }
  // Largest exponent (a multiple of 3, from -9 up to 18 for SI) that leaves an integer mantissa.
  let exp = -9;
  let mantissa = abs;
  const maxExp = format === 'DecimalSI' ? 18 : Number.MAX_SAFE_INTEGER;
  while (exp < maxExp && mantissa % 1000n === 0n) {
    mantissa /= 1000n;
    exp += 3;
  }
  if (format === 'DecimalSI') return `${sign}${mantissa}${decimalSuffixByExp[exp]}`;
  return exp === 0 ? `${sign}${mantissa}` : `${sign}${mantissa}e${exp}`;
}

/** Parses and re-prints a quantity in canonical form (`0.5` → `500m`); undefined if malformed. */
export function canonicalQuantity(s: string): string | undefined {
  const q = tryParseQuantity(s);
  return q && formatQuantity(q);
}
