/** `intstream tasks [ID]`: lists tasks with status, or shows one with its counters. */
import { Command } from 'commander';
import { RuntimeClient } from '../control/http-client.ts';
import { clientTls, runtimeUrl, token, withClientTls } from './control-options.ts';

export function tasksCommand(): Command {
  return withClientTls(new Command('tasks'))
    .description('list tasks with status, or show one task with per-agent and per-stage counters')
    .argument('[id]', 'task id')
    .option('--runtime <url>', 'runtime URL (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'token (default $INTSTREAM_TOKEN)')
    .option('--json', 'JSON output')
    .action(async (id: string | undefined, o: Record<string, any>) => {
      const c = new RuntimeClient(runtimeUrl(o), token(o, false), clientTls(o, runtimeUrl(o)));
      if (id) {
        const d = await c.call('GET', `/tasks/${encodeURIComponent(id)}`);
        if (o.json) { process.stdout.write(JSON.stringify(d) + '\n'); return; }
        process.stdout.write(`${d.id}  ${d.name}  ${d.status}  results ${d.results}  data reduction ${(100 * d.data_reduction).toFixed(2)}%\n`);
        for (const a of d.agents_detail) {
          // the same words as run's summary: after filter = read - filtered out
          process.stdout.write(`  agent ${a.name} (${a.up ? 'up' : 'DOWN'}) ${a.state}: read ${a.items_read ?? 0}, after filter ${(a.items_read ?? 0) - (a.filtered ?? 0)}, left the local stage ${a.emitted ?? 0}, malformed ${a.malformed ?? 0}\n`);
          if (a.error) process.stdout.write(`    error: ${a.error}\n`);
        }
        const g = d.stages.global;
        process.stdout.write(`  global: received ${g.received}, out ${g.out}, late ${g.late}, grace expiries ${g.grace_expiries}; workers ${g.workers.map((w: any) => `${w.name}[${w.partitions.join(',')}]`).join(' ')}\n`);
        return;
      }
      const { tasks } = await c.call('GET', '/tasks');
      if (o.json) { process.stdout.write(JSON.stringify(tasks) + '\n'); return; }
      for (const t of tasks) process.stdout.write(`${t.id}\t${t.name}\t${t.status}\t${t.results} results\t${t.agents.join(',')}\n`);
    });
}
