/** `intstream stop TASK`: stops a task on every agent and GSP worker; a finished task stays finished. */
import { Command } from 'commander';
import { RuntimeClient } from '../control/http-client.ts';
import { clientTls, runtimeUrl, token, withClientTls } from './control-options.ts';

export function stopCommand(): Command {
  return withClientTls(new Command('stop'))
    .description('stop a task everywhere')
    .argument('<id>', 'task id')
    .option('--runtime <url>', 'runtime URL (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'token (default $INTSTREAM_TOKEN)')
    .action(async (id: string, o: Record<string, any>) => {
      const r = await new RuntimeClient(runtimeUrl(o), token(o, true), clientTls(o, runtimeUrl(o))).call('POST', `/tasks/${encodeURIComponent(id)}/stop`, {});
      // a task that ended by itself stays finished: nothing to stop, not an error
      process.stdout.write(r.status === 'finished' ? `${r.id} finished: it had already finished, nothing to stop\n` : `${r.id} ${r.status}\n`);
    });
}
