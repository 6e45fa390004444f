/**
 * Random draws from the Beta distribution, built from uniforms only, so that a seeded uniform
 * source (`seededRandom`) makes every draw reproducible. Used by the ladder's Thompson sampling.
 *
 * Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b) (unit scale).
 * Gamma(a ≥ 1): Marsaglia & Tsang (2000), "A simple method for generating gamma variables".
 * Gamma(a < 1): the boost trick, Gamma(a) = Gamma(a + 1) × U^(1/a).
 */

/** A uniform in (0, 1]: never 0, so logarithms and powers stay finite. */
const openUniform = (rng: () => number) => 1 - rng();

/** A standard normal draw (Box–Muller; the second value of the pair is dropped to stay stateless). */
export function sampleNormal(rng: () => number): number {
  const u1 = openUniform(rng);
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A Gamma(shape, 1) draw; shape > 0. */
export function sampleGamma(shape: number, rng: () => number): number {
  if (!(shape > 0) || !Number.isFinite(shape)) {
    throw new Error(`expected a finite gamma shape > 0, found ${shape}`);
  }
  if (shape < 1) return sampleGamma(shape + 1, rng) * openUniform(rng) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = sampleNormal(rng);
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = openUniform(rng);
    // The squeeze accepts ~98% of draws without a logarithm; the exact test decides the rest.
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) draw; a, b > 0. */
export function sampleBeta(a: number, b: number, rng: () => number): number {
  const x = sampleGamma(a, rng);
  const y = sampleGamma(b, rng);
  // Both gammas underflow to 0 only for tiny shapes, where Beta(a, b) is nearly Bernoulli(a / (a + b)).
  if (x + y === 0) return rng() < a / (a + b) ? 1 : 0;
  return x / (x + y);
}
