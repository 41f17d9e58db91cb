import * as fs from 'node:fs';
import type { Command } from 'commander';
import { configReferenceMarkdown, withReference } from '../config/reference.ts';
import { writeFileAtomic } from '../util/fs.ts';

export function registerConfigReference(program: Command): void {
  program
    .command('config-reference')
    .description('print the config reference generated from the schema (--write updates docs/config-reference.md)')
    .option('--write [file]', 'replace the reference section of this Markdown file (default docs/config-reference.md)', false)
    .addHelpText('after', '\nExample:\n  $ seqlab config-reference --write docs/config-reference.md')
    .action((opts: { write: string | boolean }) => {
      if (!opts.write) {
        process.stdout.write(configReferenceMarkdown() + '\n');
        return;
      }
      const file = typeof opts.write === 'string' ? opts.write : 'docs/config-reference.md';
      writeFileAtomic(file, withReference(fs.readFileSync(file, 'utf8')));
      process.stdout.write(`${file}: config reference updated\n`);
    });
}
