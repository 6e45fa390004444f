import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { FINDING_KINDS } from '../../functions/core/events/findings';
import { EventError, type ParsedEvent, parseEvent } from '../../functions/core/events/parse';

const RUNS = Number(process.env.FC_RUNS ?? 300);

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'events');
const PUBLIC = path.join(FIXTURES, 'public');

/** Every valid event we have: the constructed fixtures and the public samples. */
const VALID: ReadonlyArray<{ name: string; event: unknown }> = [
  ...readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .map((name) => ({ name, event: JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) })),
  ...readdirSync(PUBLIC)
    .filter((f) => f.endsWith('.json.txt'))
    .map((name) => ({ name, event: JSON.parse(readFileSync(path.join(PUBLIC, name), 'utf8')) })),
];

type Key = string | number;
type Outcome = { readonly parsed: ParsedEvent } | { readonly error: string };

/** parseEvent's answer or its EventError's message; any other exception escapes and fails the run. */
function attempt(input: unknown): Outcome {
  try {
    return { parsed: parseEvent(input) };
  } catch (error) {
    if (error instanceof EventError && error.name === 'EventError') return { error: error.message };
    throw error;
  }
}

/** What a successful parse must look like, whatever the input. */
function checkShape(outcome: Outcome): void {
  if (!('parsed' in outcome)) {
    expect(outcome.error).toMatch(/^\S+: expected .+, found .+/);
    return;
  }
  const { parsed } = outcome;
  expect(parsed.eventId).not.toBe('');
  expect(parsed.findings.length === 0).toBe(parsed.ignored !== undefined);
  for (const finding of parsed.findings) {
    expect(FINDING_KINDS).toContain(finding.kind);
    expect(finding.instanceId).toMatch(/^i-[0-9a-f]{8,17}$/);
    expect(finding.key).not.toBe('');
    expect(finding.detail).not.toBe('');
    expect(finding.source.startsWith(`${parsed.source}:`)).toBe(true);
    if (finding.deadline !== undefined)
      expect(new Date(finding.deadline).toISOString()).toBe(finding.deadline);
  }
}

function pathsOf(value: unknown, prefix: Key[] = []): Key[][] {
  if (value === null || typeof value !== 'object') return [];
  const entries: Array<[Key, unknown]> = Array.isArray(value)
    ? value.map((v, i): [Key, unknown] => [i, v])
    : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}

/** Values that sit near the edges of what the parser accepts. */
const awkward = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    '',
    'i-',
    'i-xyz',
    'i-0123456',
    'i-0123456789abcdef0',
    'I-0123456789ABCDEF0',
    'vol-0123456789abcdef0',
    'arn:aws:ec2:us-east-1:1:instance/i-0123',
    'arn:aws:ec2:us-east-1:1:instance/i-0123456789abcdef0',
    'arn:aws:health:region::event/id',
    'constructor',
    '__proto__',
    'ALARM',
    'closed',
    'stopped',
    'hibernate',
    'fleetops-status-i-12345678',
    'Mon, 30 Feb 2026 10:00:00 GMT',
    '2026-02-29T00:00:00Z',
    '2026-12-31T23:59:59.999+0000',
    '0',
    '99',
    -1,
    0,
    1.5,
    Number.MAX_SAFE_INTEGER + 2,
    null,
    [],
    {},
  ),
);

type Mutation = { readonly at: number; readonly remove: boolean; readonly value: unknown };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({ at: fc.nat(), remove: fc.boolean(), value: awkward });

/** Deletes or replaces the fields the mutations point at (by index into the event's paths). */
function mutate(event: unknown, mutations: readonly Mutation[]): unknown {
  const copy = structuredClone(event);
  for (const { at, remove, value } of mutations) {
    const paths = pathsOf(copy);
    if (paths.length === 0) break;
    const where = paths[at % paths.length];
    const parent = where
      .slice(0, -1)
      .reduce<unknown>((node, key) => (node as Record<Key, unknown>)[key], copy);
    const last = where[where.length - 1];
    if (remove && Array.isArray(parent)) parent.splice(last as number, 1);
    else if (remove) delete (parent as Record<Key, unknown>)[last];
    else (parent as Record<Key, unknown>)[last] = structuredClone(value);
  }
  return copy;
}

describe('parseEvent (property-based)', () => {
  it('answers any JSON value, or its text, with a result or an EventError — never another error', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        checkShape(attempt(value));
        checkShape(attempt(JSON.stringify(value)));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers any value at all, and any text, with a result or an EventError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string()), (value) => {
        checkShape(attempt(value));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers envelopes of every known type with random details', () => {
    const envelope = fc.record({
      id: fc.oneof(fc.uuid(), fc.jsonValue({ maxDepth: 0 })),
      source: fc.constantFrom('aws.health', 'aws.ec2', 'aws.cloudwatch'),
      'detail-type': fc.constantFrom(
        'AWS Health Event',
        'AWS Health Abuse Event',
        'EC2 Instance State-change Notification',
        'EC2 Spot Instance Interruption Warning',
        'EC2 Instance Rebalance Recommendation',
        'CloudWatch Alarm State Change',
      ),
      time: fc.oneof(fc.constant('2026-01-01T00:00:00Z'), fc.string()),
      detail: fc.oneof(
        fc.jsonValue(),
        fc.constantFrom(...VALID.map((v) => (v.event as { detail: unknown }).detail)),
      ),
    });
    fc.assert(
      fc.property(envelope, (event) => {
        checkShape(attempt(event));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers mutated fixtures (fields deleted or replaced) with a result or an EventError, deterministically', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        ({ event }, mutations) => {
          const input = mutate(event, mutations);
          const before = JSON.stringify(input);

          const first = attempt(input);
          const second = attempt(structuredClone(input));

          checkShape(first);
          expect(second).toEqual(first);
          // Parsing reads its input and leaves it as it was.
          expect(JSON.stringify(input)).toBe(before);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('parses every valid fixture, and gives the same findings whatever the envelope id (a redelivery)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.uuid(), ({ event }, id) => {
        const original = attempt(event);
        const redelivered = attempt({ ...(event as object), id });

        expect(original).toHaveProperty('parsed');
        checkShape(original);
        expect(redelivered).toEqual({
          parsed: { ...(original as { parsed: ParsedEvent }).parsed, eventId: id },
        });
      }),
      { numRuns: Math.min(RUNS, 100) },
    );
  });

  it('reads a Health event split into pages as the whole event: one key, every instance once', () => {
    const [template] = VALID.filter((v) => v.name === 'health-reboot.page-1-of-2.json').map((v) => v.event);
    const hex = (length: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
    const instanceIds = fc.uniqueArray(
      fc.oneof(hex(8), hex(17)).map((h) => `i-${h}`),
      { minLength: 1, maxLength: 12 },
    );
    const paged = instanceIds.chain((ids) =>
      fc.tuple(
        fc.constant(ids),
        fc
          .integer({ min: 1, max: 4 })
          .chain((pages) =>
            fc.tuple(
              fc.constant(pages),
              fc.array(fc.nat(pages - 1), { minLength: ids.length, maxLength: ids.length }),
            ),
          ),
      ),
    );

    fc.assert(
      fc.property(paged, ([ids, [pages, pageOf]]) => {
        const results = Array.from({ length: pages }, (_, p) => {
          const event = structuredClone(template) as { id: string; detail: Record<string, unknown> };
          event.id = `delivery-${p + 1}`;
          event.detail.page = String(p + 1);
          event.detail.totalPages = String(pages);
          event.detail.communicationId = `c0ffee-${p + 1}`;
          event.detail.affectedEntities = ids
            .filter((_, i) => pageOf[i] === p)
            .map((entityValue) => ({ entityValue, status: 'PENDING' }));
          return parseEvent(event);
        });

        const findings = results.flatMap((r) => r.findings);
        expect(new Set(findings.map((f) => f.key)).size).toBe(1);
        expect(findings.map((f) => f.instanceId).sort()).toEqual([...ids].sort());
        results.forEach((r, p) => {
          expect(r.findings.map((f) => f.instanceId)).toEqual(ids.filter((_, i) => pageOf[i] === p));
        });
      }),
      { numRuns: RUNS },
    );
  });
});
