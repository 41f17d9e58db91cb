/**
 * `claims:` — what a config expects its results to show, checked over seeds by `seqlab check`.
 * A claim names a metric, a selection of runs (dotted key -> value, matched as `sweep.exclude`
 * matches) and either a bound (at_least / at_most) or another selection to compare with
 * (greater_than / less_than, optionally by a margin). A claim of `kind: precondition` is a positive
 * control: the claims that name it in `requires` (or every claim, with `required_by: all`) are
 * reported invalid, never pass or fail, when it does not pass (docs/runner.md 6.1).
 */
import { z } from 'zod';

const selection = z.record(z.string(), z.unknown());

export const claimSchema = z
  .strictObject({
    name: z.string().min(1).optional().describe('label in the claims table (default: built from the claim)'),
    metric: z.string().min(1).describe('summary metric, e.g. test_bpb, accuracy, test_accuracy@N=256, decode_ms_per_token@1024'),
    where: selection.default({}).describe('runs the claim is about: dotted key -> value, every key must match (as sweep.exclude)'),
    for_each: z
      .array(z.string().min(1))
      .default([])
      .describe('dotted keys: one claim per distinct value combination among the selected runs'),
    at_least: z.number().optional().describe('bound: mean(metric) > at_least (one-sample t-test against the constant)'),
    at_most: z.number().optional().describe('bound: mean(metric) < at_most'),
    greater_than: selection
      .optional()
      .describe('comparison: mean(where) > mean(this selection) + margin; keys not given are taken from `where` (and for_each)'),
    less_than: selection.optional().describe('comparison: mean(where) < mean(this selection) - margin'),
    margin: z.number().nonnegative().default(0).describe("margin of a comparison or a bound, in the metric's unit"),
    level: z.number().gt(0).lt(1).default(0.05).describe('significance level of the one-sided Welch t-test (pass when p < level)'),
    best_over: z
      .string()
      .min(1)
      .optional()
      .describe('keep, per group of the other swept axes, only the best value of this axis (e.g. train.lr; zoology protocol)'),
    by: z.string().min(1).default('valid_loss').describe('metric that decides best_over'),
    kind: z
      .enum(['claim', 'precondition'])
      .default('claim')
      .describe(
        'precondition: a positive control (e.g. every model learns the easy variant); claims that depend on it are invalid when it does not pass',
      ),
    requires: z.array(z.string().min(1)).default([]).describe('names of the precondition claims this claim depends on'),
    required_by: z
      .enum(['listed', 'all'])
      .default('listed')
      .describe("a precondition's dependents: the claims that list it in requires, or all (every other claim of the config)"),
  })
  .superRefine((c, ctx) => {
    if (c.kind === 'precondition' && c.name === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['kind'],
        message: 'a precondition needs a name (claims name it in requires; the invalid ones name it)',
      });
    if (c.required_by === 'all' && c.kind !== 'precondition')
      ctx.addIssue({ code: 'custom', path: ['required_by'], message: 'required_by applies to a claim of kind: precondition' });
    const given = (['at_least', 'at_most', 'greater_than', 'less_than'] as const).filter((k) => c[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: given.length > 1 ? [given[1]] : [],
        message: `a claim needs exactly one of at_least, at_most, greater_than, less_than (${given.length === 0 ? 'none given' : `found ${given.join(' and ')}`})`,
      });
    }
  });

export const claimsSchema = z
  .array(claimSchema)
  .default([])
  .describe('expected results, checked over seeds by `seqlab check` (one-sided Welch t-test, Holm-corrected over the claims of one check)');

export type Claim = z.infer<typeof claimSchema>;
