/** `intstream submit TASK`: sends a task (built-in name or query file) to the runtime. */
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { RuntimeClient } from '../control/http-client.ts';
import { IntstreamError } from '../errors.ts';
import { parseDuration } from './format.ts';
import { clientTls, runtimeUrl, token, withClientTls } from './control-options.ts';

const repeat = (v: string, p: string[]) => [...p, v];

export function submitCommand(): Command {
  return withClientTls(new Command('submit'))
    .description('submit a task to the runtime: it runs on the chosen agents and the GSP workers')
    .argument('<task>', 'built-in application name or query file (.ts)')
    .option('--runtime <url>', 'runtime URL (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'token (default $INTSTREAM_TOKEN)')
    .option('-p, --param <k=v>', 'task parameter (repeatable)', repeat, [])
    .option('-w, --window <duration>', 'window length', '10s')
    .option('--agent <name>', 'run on this agent (repeatable; default: all agents that are up)', repeat, [])
    .option('--label <k=v>', 'run on agents with this label (repeatable)', repeat, [])
    .option('--id <id>', 'task id (default: name and a random suffix)')
    .option('--partitions <n>', 'partitions of the task topic (GSP parallelism)')
    .option('--grace <duration>', 'a silent agent stops holding windows open after this')
    .option('--sink <sink>', 'also write results on the GSP workers: stdout, jsonl:PATH, table:PATH, influxdb://HOST:PORT/DB, prometheus://HOST:PORT or kafka://HOST:PORT/TOPIC (repeatable)', repeat, [])
    .option('--json', 'print the submitted task as JSON')
    .addHelpText('after', `
Examples:
  $ intstream submit tcp-new-conn -p threshold=50
  $ intstream submit ./syn-per-port.ts --label site=ams --window 1m`)
    .action(async (task: string, o: Record<string, any>) => {
      const params: Record<string, string> = {};
      for (const kv of o.param as string[]) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new IntstreamError('USAGE', `--param ${kv}: expected k=v`);
        params[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const labels: Record<string, string> = {};
      for (const kv of o.label as string[]) { const eq = kv.indexOf('='); labels[kv.slice(0, eq)] = kv.slice(eq + 1); }
      const isFile = /[\\/.]/.test(task) && existsSync(task);
      const body: Record<string, unknown> = {
        ...(isFile ? { code: readFileSync(task, 'utf8') } : { app: task }),
        params, window: parseDuration(o.window), sinks: o.sink,
        agents: o.agent.length ? { names: o.agent } : Object.keys(labels).length ? { labels } : { all: true },
        ...(o.id ? { id: o.id } : {}),
        ...(o.partitions ? { partitions: Number(o.partitions) } : {}),
        ...(o.grace ? { grace_ms: Math.round(parseDuration(o.grace) * 1000) } : {}),
      };
      const t = await new RuntimeClient(runtimeUrl(o), token(o, true), clientTls(o, runtimeUrl(o))).call('POST', '/tasks', body);
      process.stdout.write(o.json ? JSON.stringify(t) + '\n' : `${t.id}\n`);
    });
}
