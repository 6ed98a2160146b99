/**
 * Item types shared across packages. Datasets produce them, judges and bench consume them;
 * they live in core so that datasets and judges depend on core types only (DESIGN.md §3).
 */

export type Polarity = 'neg' | 'nonneg';
export type ContextCondition = 'ambig' | 'disambig';

/** One multiple-choice item: a BBQ question, a pronoun frame or a generic NLU item. */
export interface McItem {
  /** Stable id, unique within its category (BBQ: example_id as a string). */
  id: string;
  /** Dataset category (BBQ: "Age", "Disability_status", ...; pronoun set: "pronoun"). */
  category: string;
  /** Named text fields that prompt templates refer to (BBQ: context, question). */
  fields: Record<string, string>;
  /** Answer options, in presentation order. */
  options: string[];
  /** Gold option index, or null when no option is correct (e.g. a bias-probe frame). */
  label: number | null;
  /** Index of the "unknown"/"can't be determined" option, or null when there is none. */
  unknownIndex: number | null;
  /** Index of the stereotyped target option, or null when it cannot be derived. */
  targetIndex: number | null;
  /** Question polarity (BBQ), null elsewhere. */
  polarity: Polarity | null;
  /** Context condition (BBQ), null elsewhere. */
  condition: ContextCondition | null;
  /** Finer category label (BBQ additional_metadata.subcategory), when present. */
  subcategory?: string;
  /** Anything else the source carried, kept for reports (never used for scoring). */
  meta?: Record<string, unknown>;
}
