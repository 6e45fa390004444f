/**
 * The canary judge the health gate asks when a spec names metrics: per metric, the wave's samples
 * against a baseline's, in the manner of Kayenta's judge.
 *
 * - judge.ts: clean, classify per metric, score, classify the score;
 * - mann-whitney.ts: the Mann–Whitney U test and the Hodges–Lehmann estimate;
 * - normal.ts: the normal distribution the test's p-value comes from.
 *
 * May import: zod only.
 */
export * from './judge';
export * from './mann-whitney';
export * from './normal';
