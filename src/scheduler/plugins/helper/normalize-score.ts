/** Shared score normalization (plugins/helper/normalize_score.go). */
import { maxNodeScore } from '../../framework/interface.js';

/**
 * Scales scores to 0..max by the highest score (integer division, as upstream); with `reverse`, a higher raw
 * score becomes a lower final one. All-zero scores stay 0, or become max when reversed.
 */
export function defaultNormalizeScore(scores: Float64Array, reverse: boolean, max = maxNodeScore): void {
  let maxCount = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > maxCount) maxCount = scores[i]!;
  if (maxCount === 0) {
    if (reverse) scores.fill(max);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    let s = Math.trunc((max * scores[i]!) / maxCount);
    if (reverse) s = max - s;
    scores[i] = s;
  }
}
