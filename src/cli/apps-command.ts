/** `intstream apps`: the built-in applications with their parameters and defaults. */
import { Command } from 'commander';
import { builtinNames, builtinPath, loadBuiltin } from '../apps/index.ts';

export function appsCommand(): Command {
  return new Command('apps')
    .description('list the built-in applications with their parameters and defaults')
    .option('--json', 'one JSON object per application (JSON Lines)')
    .addHelpText('after', `
Examples:
  $ intstream apps
  $ intstream apps --json | jq .name`)
    .action(async (o: { json?: boolean }) => {
      const out: string[] = [];
      for (const name of builtinNames()) {
        const d = (await loadBuiltin(name))!;
        if (o.json) {
          out.push(JSON.stringify({ name, description: d.description, params: Object.fromEntries(Object.entries(d.params as Record<string, { default: unknown; description: string }>).map(([k, v]) => [k, { default: v.default, description: v.description }])), output: d.output ?? null, file: builtinPath(name) }));
          continue;
        }
        out.push(`${name}\n  ${d.description}`);
        if (d.output) out.push(`  key: ${d.output.key}; value: ${d.output.value}`);
        for (const [k, v] of Object.entries(d.params as Record<string, { default: unknown; description: string }>)) out.push(`  --param ${k}=${JSON.stringify(v.default)}  ${v.description}`);
        out.push(`  query file: ${builtinPath(name)}`, '');
      }
      process.stdout.write(out.join('\n') + '\n');
    });
}
