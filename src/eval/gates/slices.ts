/**
 * Slice definitions (slices.yaml v1, as the reference world writes it beside its COCO files):
 * each slice's name, filter over manifest/annotation columns,
 * weight (for weighted aggregates) and critical flag. When given to the gate, they are
 * authoritative over the weights and flags written in the reports.
 */
import { z } from 'zod';
import type { YamlSource } from '../yaml.js';
import { validateWith } from '../yaml.js';
import { sliceFilterSchema, uniqueSliceNames } from '../report-schema.js';

/** One slice definition. */
export const sliceDefinitionSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  level: z.enum(['image', 'object']).optional(),
  support: z.unknown().optional(),
  filter: sliceFilterSchema,
  weight: z.number().finite().nonnegative().default(1),
  critical: z.boolean().default(false),
});

/** A slice definition. */
export type SliceDefinition = z.infer<typeof sliceDefinitionSchema>;

const slicesFileSchema = z
  .looseObject({ version: z.literal(1), slices: z.array(sliceDefinitionSchema).min(1) })
  .superRefine(uniqueSliceNames);

/** Parses a slices file. */
export function parseSliceDefinitions(src: YamlSource): SliceDefinition[] {
  return validateWith(src, slicesFileSchema).slices;
}

/**
 * Words for a filter, for next actions: `{time_of_day: night, category: pedestrian}` ->
 * "night + pedestrian"; ranges read `occlusion >= 0.3`.
 */
export function filterWords(filter: Record<string, unknown>): string {
  const ops: Record<string, string> = { gte: '>=', gt: '>', lte: '<=', lt: '<' };
  return Object.entries(filter)
    .map(([k, v]) => {
      if (Array.isArray(v)) return v.map(String).join('/');
      if (v !== null && typeof v === 'object') {
        return Object.entries(v as Record<string, unknown>)
          .map(([op, x]) => `${k} ${ops[op] ?? op} ${String(x)}`)
          .join(', ');
      }
      return typeof v === 'boolean' ? `${k}=${String(v)}` : String(v);
    })
    .join(' + ');
}
