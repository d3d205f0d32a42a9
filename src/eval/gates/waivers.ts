/**
 * Waivers: the only way besides its rule to pass a failing gate rule. A waiver names the rule
 * (and optionally the elements, e.g. slices, it covers), a justification, an approver and an
 * expiry. Expired waivers are ignored and reported. A WaiverVerifier decides whether a waiver is
 * trusted; the default accepts unsigned waivers and says so in the verdict, and the registry
 * plugs in signature verification (the optional `signature` field is carried through untouched).
 */
import { z } from 'zod';
import type { YamlSource } from '../yaml.js';
import { validateWith } from '../yaml.js';

/** A waiver record. */
export const waiverSchema = z.strictObject({
  id: z.string().min(1).optional(),
  rule: z.string().min(1),
  elements: z.array(z.string().min(1)).min(1).optional(),
  justification: z.string().min(10, 'a justification of at least 10 characters'),
  approver: z.string().min(1),
  expires: z.iso.datetime({ offset: true }),
  created_at: z.iso.datetime({ offset: true }).optional(),
  signature: z.unknown().optional(),
});

/** A waiver. */
export type Waiver = z.infer<typeof waiverSchema>;

/** A verifier's judgement of a waiver. */
export interface WaiverCheck {
  trusted: boolean;
  signed: boolean;
  reason: string;
}

/** Decides whether a waiver is trusted (e.g. checks its signature against the approvers' keys). */
export type WaiverVerifier = (waiver: Waiver) => WaiverCheck;

/** The default verifier: trusts any well-formed waiver, recording that it is unsigned. */
export const acceptUnsigned: WaiverVerifier = () => ({
  trusted: true,
  signed: false,
  reason: 'accepted unsigned (no waiver verifier configured)',
});

/** Parses a waivers file: `{waivers: [...]}` or a bare list. */
export function parseWaivers(src: YamlSource): Waiver[] {
  const v = src.value;
  if (Array.isArray(v)) return validateWith(src, z.array(waiverSchema));
  return validateWith(src, z.strictObject({ waivers: z.array(waiverSchema) })).waivers;
}
