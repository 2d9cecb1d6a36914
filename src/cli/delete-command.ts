/** `intstream delete TASK`: stops a task everywhere and forgets it: results, counters, Kafka topics. */
import { Command } from 'commander';
import { RuntimeClient } from '../control/http-client.ts';
import { clientTls, runtimeUrl, token, withClientTls } from './control-options.ts';

export function deleteCommand(): Command {
  return withClientTls(new Command('delete'))
    .description("delete a task: stopped everywhere, its stored results, counters and Kafka topics removed")
    .argument('<id>', 'task id')
    .option('--runtime <url>', 'runtime URL (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'an operator token (default $INTSTREAM_TOKEN)')
    .addHelpText('after', `
Examples:
  $ intstream delete tcp-new-conn-1a2b3c4d`)
    .action(async (id: string, o: Record<string, any>) => {
      const r = await new RuntimeClient(runtimeUrl(o), token(o, true), clientTls(o, runtimeUrl(o))).call('DELETE', `/tasks/${encodeURIComponent(id)}`);
      const gone = Object.entries(r.topics as Record<string, boolean>).filter(([, d]) => d).map(([t]) => t);
      process.stdout.write(`${r.id} deleted${gone.length ? ` (topics ${gone.join(', ')})` : ''}\n`);
    });
}
