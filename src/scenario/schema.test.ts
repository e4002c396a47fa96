import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { scenarioJsonSchema } from './schema.js';
import { OPS } from './registry.js';

describe('scenario JSON Schema', () => {
  it('schema/scenario.schema.json is up to date (regenerate: npx vfiolab schema -o schema/scenario.schema.json)', () => {
    const committed = readFileSync('schema/scenario.schema.json', 'utf8');
    expect(JSON.stringify(scenarioJsonSchema(), null, 2) + '\n').toBe(committed);
  });
  it('has one step variant per operation', () => {
    const s = scenarioJsonSchema() as { properties: { steps: { items: { oneOf: unknown[] } } } };
    expect(s.properties.steps.items.oneOf.length).toBe(Object.keys(OPS).length);
  });
});
