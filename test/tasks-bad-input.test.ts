// The new task options (parity, modular arithmetic, extra evaluation lengths) on bad input, through the
// spawned CLI (docs/runner.md 8): every error at once, each at file:line:col with its dotted key,
// exit 2, no stack trace, nothing written.
import { describe, it } from 'vitest';
import { cliSandbox } from './fixtures/cli.ts';

const { write, expectErrors: expectCliErrors } = cliSandbox('seqlab-task-input-');
const expectErrors = (file: string, lines: RegExp[]) => expectCliErrors(file, lines, ['validate', 'plan']);

describe('state-tracking task options on bad input', () => {
  it('unknown key with did-you-mean, wrong enum, out-of-range list item and wrong type: all at once, located', () => {
    const f = write(
      'parity.yaml',
      'task:\n  kind: parity\n  train_max_lenn: 8\n  targets: every\n  eval_lengths: [32, -4]\n  seq_len: 1.5\n',
    );
    expectErrors(f, [
      /parity\.yaml:3:19: task\.train_max_lenn: unknown key \(did you mean "train_max_len"\?\)$/,
      /parity\.yaml:4:12: task\.targets: expected one of "final", "all", found string "every"$/,
      /parity\.yaml:5:22: task\.eval_lengths\.1: .*>0, found number -4$/,
      /parity\.yaml:6:12: task\.seq_len: expected int, found number 1\.5$/,
    ]);
  });

  it('lengths that do not fit the context, even lengths where the task needs odd ones', () => {
    expectErrors(write('fit.yaml', 'task:\n  kind: parity\n  test_max_len: 100\n'), [
      /fit\.yaml:3:17: task\.test_max_len: 100 does not fit the context seq_len=64$/,
    ]);
    expectErrors(write('odd.yaml', 'task:\n  kind: modular_arithmetic\n  eval_lengths: [47, 48]\n'), [
      /odd\.yaml:3:17: task\.eval_lengths: every length must be odd and ≥ 3 \(got 48\)$/,
    ]);
  });

  it('an extra evaluation length whose forward pass cannot be allocated is refused before anything runs', () => {
    expectErrors(write('huge.yaml', 'task:\n  kind: parity\n  eval_lengths: [64, 100000000]\n'), [
      /huge\.yaml:3:17: task\.eval_lengths: this shape cannot be allocated: .*evaluation .* x 100000000 x .*\(float32\)\), more than /,
    ]);
  });
});
